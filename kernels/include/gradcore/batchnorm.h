/* Batch normalization over the features of x[N,C] (row-major), torch.nn.BatchNorm1d semantics.
 * Contract: docs/kernels.md, family "batchnorm"; definition: backends/reference/batchnorm.py.
 *
 * Scratch: train forward and backward take `work` of GC_BN_WORK(C, nwork) = (nwork + 2) * 2 * C
 * doubles (contents undefined on entry), nwork >= 1; the eval forward takes 2 * C doubles.
 * The rows are cut into at most `nwork` chunks, one per thread (one chunk, no threads, below
 * GC_PARALLEL_MIN elements); each chunk accumulates its per-feature sums into its own slot and
 * the slots are then added in a fixed order, so the result does not depend on how many
 * threads actually ran (only on nwork). The last 2 slots hold per-feature coefficients.
 * momentum, eps: as torch. Sums and statistics are double even for float data.
 * Return GC_OK, or GC_EBADSIZE (N < 2 in training, negative sizes, nwork < 1).
 */
#ifndef GRADCORE_BATCHNORM_H
#define GRADCORE_BATCHNORM_H

#include "gradcore/common.h"

#define GC_BN_WORK(C, nwork) (((nwork) + 2) * 2 * (C))

int gc_batchnorm_forward_train_f32(const float *x, int64_t N, int64_t C, const float *gamma,
                                   const float *beta, float *running_mean, float *running_var,
                                   double momentum, double eps, float *y, float *mean,
                                   float *inv_std, double *work, int64_t nwork);
int gc_batchnorm_forward_train_f64(const double *x, int64_t N, int64_t C, const double *gamma,
                                   const double *beta, double *running_mean,
                                   double *running_var, double momentum, double eps, double *y,
                                   double *mean, double *inv_std, double *work, int64_t nwork);
int gc_batchnorm_forward_eval_f32(const float *x, int64_t N, int64_t C, const float *gamma,
                                  const float *beta, const float *running_mean,
                                  const float *running_var, double eps, float *y, double *work);
int gc_batchnorm_forward_eval_f64(const double *x, int64_t N, int64_t C, const double *gamma,
                                  const double *beta, const double *running_mean,
                                  const double *running_var, double eps, double *y,
                                  double *work);
int gc_batchnorm_backward_f32(const float *dy, const float *x, int64_t N, int64_t C,
                              const float *gamma, const float *mean, const float *inv_std,
                              float *dx, float *dgamma, float *dbeta, double *work,
                              int64_t nwork);
int gc_batchnorm_backward_f64(const double *dy, const double *x, int64_t N, int64_t C,
                              const double *gamma, const double *mean, const double *inv_std,
                              double *dx, double *dgamma, double *dbeta, double *work,
                              int64_t nwork);

#endif
