/* LSTM over a whole batch-first sequence, gate order i, f, g, o, one bias vector.
 * Contract: docs/kernels.md, family "lstm"; definition: backends/reference/lstm.py.
 *
 * Shapes (row-major, contiguous): x[N,T,D], Wx[D,4H], Wh[H,4H], b[4H], h0[N,H], c0[N,H],
 * hs[N,T,H], cs[N,T,H], gates[N,T,4H]. The time loop runs here: one GEMM for the input
 * projections of all steps, then per step one GEMM with Wh and one fused gate pass.
 *
 * Threads: the batch is cut into at most `nwork` (>= 1) row blocks, each running the whole
 * time loop; results do not depend on the number of threads that actually ran.
 * `gates` first receives the pre-activations and is activated in place step by step.
 *
 * Recurrent products: Wh (forward) and Wh^T (backward) are packed once per call into `wpack`
 * (gc_lstm_wpack_size_SFX(H, backward) elements, contents undefined on entry) and multiplied
 * by gradcore's own register-blocked kernel (kernels/packgemm_impl.h), not by the BLAS, which
 * would re-pack the same matrix at every step. The large GEMMs still go through gc_gemm.
 *
 * Backward scratch (contents undefined on entry), besides `wpack`:
 *   da[N*T*4H]     pre-activation gradients of every step (for the weight GEMMs and dx)
 *   hprev[N*T*H]   h_{t-1} of every step (h0 for t = 0), the left operand of dWh (filled by
 *                  the threads of the time loop, each for its rows)
 *   nrm[nwork*2*T] per-block squared norms of dL/dh_t, dL/dc_t (double)
 *   part[gc_lstm_part_size_SFX(D, H, nwork)]  per-block partial dWh, dWx ([H+D, 4H] each)
 *                  when the batch is split over threads; added in block order
 * db is accumulated in double by a column-sum pass over da after the loop.
 * dhT, dcT may be NULL (no gradient on the final states). dh0 and dc0 double as the
 * recurrent carries during the loop. Outputs must not alias inputs (the binding checks).
 * Return GC_OK, or GC_EBADSIZE (T < 1, H < 1, negative sizes).
 */
#ifndef GRADCORE_LSTM_H
#define GRADCORE_LSTM_H

#include "gradcore/common.h"

#define GC_LSTM_DECL(T_, SFX)                                                                  \
    int gc_lstm_forward_##SFX(const T_ *x, int64_t N, int64_t T, int64_t D, int64_t H,         \
                              const T_ *Wx, const T_ *Wh, const T_ *b, const T_ *h0,           \
                              const T_ *c0, T_ *hs, T_ *cs, T_ *gates, T_ *wpack,              \
                              int64_t nwork);                                                  \
    int gc_lstm_backward_##SFX(const T_ *dhs, const T_ *dhT, const T_ *dcT, const T_ *x,       \
                               int64_t N, int64_t T, int64_t D, int64_t H, const T_ *Wx,       \
                               const T_ *Wh, const T_ *h0, const T_ *c0, const T_ *hs,         \
                               const T_ *cs, const T_ *gates, T_ *dx, T_ *dWx, T_ *dWh,        \
                               T_ *db, T_ *dh0, T_ *dc0, double *dh_norm, double *dc_norm,     \
                               T_ *da, T_ *hprev, T_ *wpack, T_ *part, double *nrm,           \
                               int64_t nwork);                                                 \
    int64_t gc_lstm_wpack_size_##SFX(int64_t H, int backward);                                 \
    int64_t gc_lstm_part_size_##SFX(int64_t D, int64_t H, int64_t nwork);

GC_LSTM_DECL(float, f32)
GC_LSTM_DECL(double, f64)
#undef GC_LSTM_DECL

#endif
