/* Layer normalization over the last axis of x[N,C] (row-major), torch.nn.LayerNorm semantics.
 * Contract: docs/kernels.md, family "layernorm"; definition: backends/reference/layernorm.py.
 *
 * Forward needs no scratch (statistics are per row). Backward: `work` holds nwork * 2 * C
 * doubles for the per-chunk partial sums of dgamma/dbeta (rows cut into at most nwork chunks,
 * added in a fixed order: the result does not depend on the number of threads that ran).
 * Return GC_OK or GC_EBADSIZE (C < 1, negative sizes, nwork < 1).
 */
#ifndef GRADCORE_LAYERNORM_H
#define GRADCORE_LAYERNORM_H

#include "gradcore/common.h"

int gc_layernorm_forward_f32(const float *x, int64_t N, int64_t C, const float *gamma,
                             const float *beta, double eps, float *y, float *mean,
                             float *inv_std);
int gc_layernorm_forward_f64(const double *x, int64_t N, int64_t C, const double *gamma,
                             const double *beta, double eps, double *y, double *mean,
                             double *inv_std);
int gc_layernorm_backward_f32(const float *dy, const float *x, int64_t N, int64_t C,
                              const float *gamma, const float *mean, const float *inv_std,
                              float *dx, float *dgamma, float *dbeta, double *work,
                              int64_t nwork);
int gc_layernorm_backward_f64(const double *dy, const double *x, int64_t N, int64_t C,
                              const double *gamma, const double *mean, const double *inv_std,
                              double *dx, double *dgamma, double *dbeta, double *work,
                              int64_t nwork);

#endif
