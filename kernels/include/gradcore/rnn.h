/* A plain tanh RNN (Elman; Keras' SimpleRNN) over a whole batch-first sequence, one bias vector.
 * Contract: docs/kernels.md, family "rnn"; definition: backends/reference/rnn.py.
 *
 * Shapes (row-major, contiguous): x[N,T,D], Wx[D,H], Wh[H,H], b[H], h0[N,H], hs[N,T,H].
 * h_t = tanh(x_t Wx + h_{t-1} Wh + b). The time loop runs here: one GEMM for the input
 * projections of all steps (into hs, activated in place step by step), then per step one
 * product with Wh and one fused tanh pass.
 *
 * Threads: the batch is cut into at most `nwork` (>= 1) row blocks, each running the whole
 * time loop; results do not depend on the number of threads that actually ran.
 *
 * Recurrent products: Wh (forward) and Wh^T (backward) are packed once per call into `wpack`
 * (gc_rnn_wpack_size_SFX(H) elements, contents undefined on entry) and multiplied by
 * gradcore's own register-blocked kernel (kernels/packgemm_impl.h), as the LSTM's. The large
 * GEMMs go through gc_gemm (the GEMM provider).
 *
 * Backward scratch (contents undefined on entry), besides `wpack`:
 *   da[N*T*H]      pre-activation gradients of every step (for the weight GEMMs and dx)
 *   hprev[N*T*H]   h_{t-1} of every step (h0 for t = 0), the left operand of dWh
 *   nrm[nwork*T]   per-block squared norms of dL/dh_t (double)
 *   part[gc_rnn_part_size_SFX(D, H, nwork)]  per-block partial dWh, dWx ([H+D, H] each)
 *                  when the batch is split over threads; added in block order
 * db is accumulated in double by a column-sum pass over da after the loop. dhT may be NULL
 * (no gradient on the final state). dh0 doubles as the recurrent carry during the loop.
 * Outputs must not alias inputs (the binding checks).
 * Return GC_OK, or GC_EBADSIZE (T < 1, H < 1, negative sizes).
 */
#ifndef GRADCORE_RNN_H
#define GRADCORE_RNN_H

#include "gradcore/common.h"

int gc_rnn_forward_f32(const float *x, int64_t N, int64_t T, int64_t D, int64_t H,
                       const float *Wx, const float *Wh, const float *b, const float *h0,
                       float *hs, float *wpack, int64_t nwork);
int gc_rnn_forward_f64(const double *x, int64_t N, int64_t T, int64_t D, int64_t H,
                       const double *Wx, const double *Wh, const double *b, const double *h0,
                       double *hs, double *wpack, int64_t nwork);
int gc_rnn_backward_f32(const float *dhs, const float *dhT, const float *x, int64_t N,
                        int64_t T, int64_t D, int64_t H, const float *Wx, const float *Wh,
                        const float *h0, const float *hs, float *dx, float *dWx, float *dWh,
                        float *db, float *dh0, double *dh_norm, float *da, float *hprev,
                        float *wpack, float *part, double *nrm, int64_t nwork);
int gc_rnn_backward_f64(const double *dhs, const double *dhT, const double *x, int64_t N,
                        int64_t T, int64_t D, int64_t H, const double *Wx, const double *Wh,
                        const double *h0, const double *hs, double *dx, double *dWx,
                        double *dWh, double *db, double *dh0, double *dh_norm, double *da,
                        double *hprev, double *wpack, double *part, double *nrm,
                        int64_t nwork);
int64_t gc_rnn_wpack_size_f32(int64_t H);
int64_t gc_rnn_wpack_size_f64(int64_t H);
int64_t gc_rnn_part_size_f32(int64_t D, int64_t H, int64_t nwork);
int64_t gc_rnn_part_size_f64(int64_t D, int64_t H, int64_t nwork);

#endif
