/* Loss family: loss value (mean, as torch's reduction='mean') and gradient in one pass.
 * All the math and every sum runs in double, whatever T; gradients are rounded to T when
 * written. dz / dp may be NULL (loss only). Empty inputs (N == 0 / n == 0) return GC_EBADSIZE:
 * a mean over nothing is undefined (the reference raises). Semantics: docs/kernels.md.
 *
 *   softmax_xent:     loss = (1/N) sum_n [logsumexp(z_n) - z_n[y_n]],
 *                     dz = (softmax(z) - onehot(y)) / N;  labels checked first (GC_EBADLABEL,
 *                     nothing written) to be in [0, K).
 *   mse:              loss = (1/n) sum (p - t)^2,  dp = 2 (p - t) / n
 *   bce_with_logits:  loss = (1/n) sum [max(z,0) - z t + log1p(exp(-|z|))],
 *                     dz = (sigmoid(z) - t) / n */
#ifndef GRADCORE_LOSS_H
#define GRADCORE_LOSS_H

#include "gradcore/common.h"

int gc_loss_softmax_xent_f32(const float *z, const int64_t *labels, int64_t N, int64_t K,
                             float *dz, double *loss);
int gc_loss_softmax_xent_f64(const double *z, const int64_t *labels, int64_t N, int64_t K,
                             double *dz, double *loss);
int gc_loss_mse_f32(const float *p, const float *t, int64_t n, float *dp, double *loss);
int gc_loss_mse_f64(const double *p, const double *t, int64_t n, double *dp, double *loss);
int gc_loss_bce_with_logits_f32(const float *z, const float *t, int64_t n, float *dz,
                                double *loss);
int gc_loss_bce_with_logits_f64(const double *z, const double *t, int64_t n, double *dz,
                                double *loss);

#endif
