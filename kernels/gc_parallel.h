/* Private helper of the streaming kernels (dense epilogues, loss, optim): run a range function
 * over [0, n) either on the calling thread or split into one contiguous chunk per OpenMP
 * thread. The range function itself holds an `omp simd` loop specialised at compile time
 * (hyper-parameter branches folded by inlining), which vectorises more reliably than one
 * `parallel for simd` loop whose flags live in the OpenMP closure.
 *
 *   GC_PARALLEL_RANGES(n, min_n, lo, hi, CALL)  runs CALL with lo/hi bound to each chunk.
 * Chunk boundaries are multiples of 16 elements (whole cache lines for float and double). */
#ifndef GRADCORE_PARALLEL_H
#define GRADCORE_PARALLEL_H

#include "gradcore/common.h"

#ifdef _OPENMP
#include <omp.h>
#define GC_PARALLEL_RANGES(n, min_n, lo, hi, CALL)                                   \
    do {                                                                             \
        const int64_t gc_n_ = (n);                                                   \
        if (gc_n_ >= (min_n) && !omp_in_parallel() && omp_get_max_threads() > 1) {   \
            _Pragma("omp parallel")                                                  \
            {                                                                        \
                const int64_t gc_nt_ = omp_get_num_threads();                        \
                const int64_t gc_t_ = omp_get_thread_num();                          \
                const int64_t gc_blk_ = (gc_n_ + 15) / 16;                           \
                int64_t lo = gc_blk_ * gc_t_ / gc_nt_ * 16;                          \
                int64_t hi = gc_blk_ * (gc_t_ + 1) / gc_nt_ * 16;                    \
                if (hi > gc_n_) hi = gc_n_;                                          \
                if (lo < hi) { CALL; }                                               \
            }                                                                        \
        } else if (gc_n_ > 0) {                                                      \
            const int64_t lo = 0, hi = gc_n_;                                        \
            CALL;                                                                    \
        }                                                                            \
    } while (0)
#else
#define GC_PARALLEL_RANGES(n, min_n, lo, hi, CALL)                                   \
    do {                                                                             \
        const int64_t gc_n_ = (n);                                                   \
        (void)(min_n);                                                               \
        if (gc_n_ > 0) {                                                             \
            const int64_t lo = 0, hi = gc_n_;                                        \
            CALL;                                                                    \
        }                                                                            \
    } while (0)
#endif

#if defined(__GNUC__)
#define GC_INLINE static inline __attribute__((always_inline))
#else
#define GC_INLINE static inline
#endif

#endif
