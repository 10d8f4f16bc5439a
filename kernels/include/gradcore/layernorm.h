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

#define GC_LN_DECL(T, SFX)                                                                     \
    int gc_layernorm_forward_##SFX(const T *x, int64_t N, int64_t C, const T *gamma,           \
                                   const T *beta, double eps, T *y, T *mean, T *inv_std);      \
    int gc_layernorm_backward_##SFX(const T *dy, const T *x, int64_t N, int64_t C,             \
                                    const T *gamma, const T *mean, const T *inv_std, T *dx,    \
                                    T *dgamma, T *dbeta, double *work, int64_t nwork);

GC_LN_DECL(float, f32)
GC_LN_DECL(double, f64)
#undef GC_LN_DECL

#endif
