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

int gc_lstm_forward_f32(const float *x, int64_t N, int64_t T, int64_t D, int64_t H,
                        const float *Wx, const float *Wh, const float *b, const float *h0,
                        const float *c0, float *hs, float *cs, float *gates, float *wpack,
                        int64_t nwork);
int gc_lstm_forward_f64(const double *x, int64_t N, int64_t T, int64_t D, int64_t H,
                        const double *Wx, const double *Wh, const double *b, const double *h0,
                        const double *c0, double *hs, double *cs, double *gates,
                        double *wpack, int64_t nwork);
int gc_lstm_backward_f32(const float *dhs, const float *dhT, const float *dcT, const float *x,
                         int64_t N, int64_t T, int64_t D, int64_t H, const float *Wx,
                         const float *Wh, const float *h0, const float *c0, const float *hs,
                         const float *cs, const float *gates, float *dx, float *dWx,
                         float *dWh, float *db, float *dh0, float *dc0, double *dh_norm,
                         double *dc_norm, float *da, float *hprev, float *wpack, float *part,
                         double *nrm, int64_t nwork);
int gc_lstm_backward_f64(const double *dhs, const double *dhT, const double *dcT,
                         const double *x, int64_t N, int64_t T, int64_t D, int64_t H,
                         const double *Wx, const double *Wh, const double *h0, const double *c0,
                         const double *hs, const double *cs, const double *gates, double *dx,
                         double *dWx, double *dWh, double *db, double *dh0, double *dc0,
                         double *dh_norm, double *dc_norm, double *da, double *hprev,
                         double *wpack, double *part, double *nrm, int64_t nwork);
/* Scratch sizes in elements: wpack (backward = 0 forward, 1 backward), part. */
int64_t gc_lstm_wpack_size_f32(int64_t H, int backward);
int64_t gc_lstm_wpack_size_f64(int64_t H, int backward);
int64_t gc_lstm_part_size_f32(int64_t D, int64_t H, int64_t nwork);
int64_t gc_lstm_part_size_f64(int64_t D, int64_t H, int64_t nwork);

#endif
