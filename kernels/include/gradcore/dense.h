/* Dense family: fully connected layer with a fused bias + activation epilogue, and the
 * standalone elementwise activations (forward / backward).
 *
 *   forward:   z = x @ W + b;  y = act(z)                 x[N,I] W[I,O] b[O] z,y[N,O]
 *   backward:  dz = dy * act'(z, y);  db += sum_n dz (double accumulators);
 *              dW += x^T dz;  dx = dz @ W^T (skipped if dx == NULL)
 *
 * All pointers row-major contiguous; sizes >= 0; GEMMs through gc_gemm_* (common.h).
 * Activation semantics (kinks, NaN handling, stable forms) are the reference backend's:
 * docs/kernels.md and src/gradcore/backends/reference/activations.py.
 * Return GC_OK, GC_EBADARG (unknown activation code) or GC_EBADSIZE (negative size). */
#ifndef GRADCORE_DENSE_H
#define GRADCORE_DENSE_H

#include "gradcore/common.h"

/* activation codes (order = gradcore.backends.ACTIVATIONS) */
#define GC_ACT_LINEAR 0
#define GC_ACT_RELU 1
#define GC_ACT_LEAKY_RELU 2 /* slope 0.01 */
#define GC_ACT_ELU 3        /* alpha 1.0 */
#define GC_ACT_SIGMOID 4
#define GC_ACT_TANH 5
#define GC_ACT_SILU 6
#define GC_ACT_GELU 7 /* exact: 0.5 x erfc(-x / sqrt 2) */
#define GC_ACT_COUNT 8

/* y = act(x), n elements; y may equal x (in place). */
int gc_dense_act_forward_f32(const float *x, float *y, int64_t n, int act);
int gc_dense_act_forward_f64(const double *x, double *y, int64_t n, int act);
/* dx = dy * act'(x) (y = act(x) given too); dx may equal dy, x or y. */
int gc_dense_act_backward_f32(const float *dy, const float *x, const float *y, float *dx,
                              int64_t n, int act);
int gc_dense_act_backward_f64(const double *dy, const double *x, const double *y, double *dx,
                              int64_t n, int act);

/* z = x W + b, y = act(z). y may equal z for GC_ACT_LINEAR only. */
int gc_dense_forward_f32(const float *x, const float *W, const float *b, int64_t N, int64_t I,
                         int64_t O, int act, float *z, float *y);
int gc_dense_forward_f64(const double *x, const double *W, const double *b, int64_t N,
                         int64_t I, int64_t O, int act, double *z, double *y);
/* dz[N,O] is caller scratch (written). dW, db accumulate; dx overwritten unless NULL.
 * No output may overlap any other argument. */
int gc_dense_backward_f32(const float *dy, const float *x, const float *W, const float *z,
                          const float *y, int64_t N, int64_t I, int64_t O, int act, float *dz,
                          float *dx, float *dW, float *db);
int gc_dense_backward_f64(const double *dy, const double *x, const double *W, const double *z,
                          const double *y, int64_t N, int64_t I, int64_t O, int act, double *dz,
                          double *dx, double *dW, double *db);

#endif
