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

#define GC_BN_DECL(T, SFX)                                                                     \
    int gc_batchnorm_forward_train_##SFX(const T *x, int64_t N, int64_t C, const T *gamma,     \
                                         const T *beta, T *running_mean, T *running_var,       \
                                         double momentum, double eps, T *y, T *mean,           \
                                         T *inv_std, double *work, int64_t nwork);             \
    int gc_batchnorm_forward_eval_##SFX(const T *x, int64_t N, int64_t C, const T *gamma,      \
                                        const T *beta, const T *running_mean,                  \
                                        const T *running_var, double eps, T *y, double *work); \
    int gc_batchnorm_backward_##SFX(const T *dy, const T *x, int64_t N, int64_t C,             \
                                    const T *gamma, const T *mean, const T *inv_std, T *dx,    \
                                    T *dgamma, T *dbeta, double *work, int64_t nwork);

GC_BN_DECL(float, f32)
GC_BN_DECL(double, f64)
#undef GC_BN_DECL

#endif
