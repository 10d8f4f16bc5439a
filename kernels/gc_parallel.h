/* Private helper of every kernel family: the one fork policy of gradcore's OpenMP regions.
 *
 * CHUNKS vs TEAM. A kernel first fixes how its work is cut (its chunks). The chunking decides
 * the rounding of every reduction and of every split GEMM, so it depends only on the problem
 * size and on the configured thread count (gc_max_threads(), process-wide), never on load.
 * gc_par_team() then decides how many threads RUN those chunks (schedule(static), each chunk
 * computed exactly as the caller alone would compute it). Any team size therefore gives
 * bit-identical results; a team of 1 runs every chunk on the calling thread, in order.
 *
 * gc_par_team(nchunks, big) is 1 when
 *   - nchunks < 2, or the work is below the fork threshold (big == 0: gc_par_big below),
 *   - the caller is already inside a gradcore region (omp_get_level() > 0: counts inactive,
 *     one-thread regions too, so the chunking of nested GEMMs does not change with the team),
 *   - or the contention back-off is on (below);
 * else min(nchunks, gc_max_threads()).
 *
 * CONTENTION BACK-OFF. On a machine where another process competes for the cores, an OpenMP
 * join waits for a peer thread that the OS has descheduled: every fork/join becomes a scheduler
 * time slice (measured: a 1.7 ms MLP step took 14.6 ms at 2 threads with one busy competitor,
 * 4.6 ms at 1 thread). Every forked region is timed by its calling thread (two clock reads):
 * when the caller, done with its own chunks, waited more than GC_PAR_WAIT_NS for the others
 * AND longer than its own share took, the region counts as contended and all regions run on
 * the calling thread for a back-off period: GC_PAR_BACKOFF_MIN_NS, doubled at every contended
 * region up to GC_PAR_BACKOFF_MAX_NS; after the period regions fork again, and the period only
 * starts again from the minimum when the last contended region is GC_PAR_FORGET_NS past (a
 * clean region does not reset it: under intermittent contention that made every period cost a
 * new slice). Under steady contention this costs one slow region per period (<= ~1 % at 1 s);
 * on a quiet machine a caller never waits that long (a peer wakes in microseconds), so nothing
 * changes. gc_par_set_adaptive(0) turns it off.
 *
 * Region skeleton (every kernel uses it):
 *
 *     const int team = gc_par_team(nch, big);
 *     gc_par_clock clk;
 *     gc_par_start(&clk, team);
 *     #pragma omp parallel num_threads(team) if (team > 1)
 *     {
 *         #pragma omp for schedule(static) nowait
 *         for (int64_t k = 0; k < nch; ++k) ...chunk k...;
 *         GC_PAR_OWN_DONE(&clk);
 *     }
 *     gc_par_finish(&clk);
 *
 * GC_PARALLEL_RANGES(n, min_n, lo, hi, CALL) runs CALL with lo/hi bound to one contiguous range
 * per team thread (elementwise work only: no reduction, so the cut does not matter). Range
 * edges are multiples of 16 elements (whole cache lines for float and double). The range
 * function holds an `omp simd` loop specialised at compile time, which vectorises more
 * reliably than one `parallel for simd` loop whose flags live in the OpenMP closure. */
#ifndef GRADCORE_PARALLEL_H
#define GRADCORE_PARALLEL_H

#include "gradcore/common.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Fork thresholds: each kernel passes its work and its chunking threshold in its own units
 * (elements of a streaming pass: GC_PARALLEL_MIN, or GC_PARALLEL_MIN / 8 for exp-bound passes;
 * M*N*K multiply-adds of a GEMM: GC_GEMM_PARALLEL_MIN; rows of a row-blocked pass...).
 * gc_par_big(work, min) is work >= min * the fork scale: a region forks only from GC_FORK_SCALE
 * times the size at which its work is cut into chunks (65536 elements of a streaming pass,
 * 8192 of an exp-bound one, 2^21 multiply-adds of a GEMM). Scale 1 is the default: measured on a
 * quiet 2-core host (python -m gradcore.bench.contention --competitors 0, fork scale 1 vs 4,
 * alternating runs), the 40-256-256-10 MLP step at batch 100 took 0.59 ms at 2 threads with
 * scale 1 and 0.80-0.88 ms with scale 4 (= 1 thread): small kernels do gain from the second
 * thread when it is there. When it is not (a competing process holds the core), the contention
 * back-off below makes the step run on the calling thread. gc_par_set_fork_scale changes the
 * scale at run time (the bench compares); the chunking never moves with it, so results do not
 * change. */
#define GC_FORK_SCALE 1
int gc_par_big(int64_t work, int64_t min);
/* The GEMM threshold passed to gc_par_big (M*N*K): gc_gemm's chunking threshold. */
#define GC_FORK_MIN_GEMM ((int64_t)GC_GEMM_PARALLEL_MIN)
/* contention detector: a caller that waited this long for its peers (and longer than its own
 * share) saw a descheduled peer */
#define GC_PAR_WAIT_NS ((int64_t)250000)
#define GC_PAR_BACKOFF_MIN_NS ((int64_t)20000000)   /* 20 ms */
#define GC_PAR_BACKOFF_MAX_NS ((int64_t)1000000000) /* 1 s */
/* a contended region this long after the last one starts again from the minimum period */
#define GC_PAR_FORGET_NS ((int64_t)10000000000) /* 10 s */

int gc_par_nested(void);            /* inside a (possibly one-thread) OpenMP region */
int gc_par_team(int64_t nchunks, int big);

typedef struct {
    int64_t t0, own; /* ns: region start, caller's own share done */
    int team;
} gc_par_clock;
void gc_par_start(gc_par_clock *c, int team);
void gc_par_own_done(gc_par_clock *c);
void gc_par_finish(gc_par_clock *c);

/* Chunk k of nch over [0, n) with edges on 16-element boundaries (whole cache lines for float
 * and double): [*lo, *hi), empty if *hi <= *lo. GC_PARALLEL_RANGES and the chunked streaming
 * reductions (norms, stats) cut their work this way. */
static inline void gc_par_chunk16(int64_t k, int64_t nch, int64_t n, int64_t *lo, int64_t *hi) {
    const int64_t nb = (n + 15) / 16;
    *lo = nb * k / nch * 16;
    *hi = nb * (k + 1) / nch * 16;
    if (*hi > n) *hi = n;
}

/* Column c of the per-chunk slot pairs of a reduction's scratch (work[k*2C .. k*2C+2C): two
 * rows of C partial sums per chunk k), added in chunk order, so the result depends on the
 * chunking only (batchnorm, layernorm backward). */
static inline void gc_par_slot_sums(const double *work, int64_t nch, int64_t C, int64_t c,
                                    double *a, double *b) {
    double sa = 0.0, sb = 0.0;
    for (int64_t k = 0; k < nch; ++k) {
        sa += work[k * 2 * C + c];
        sb += work[k * 2 * C + C + c];
    }
    *a = sa;
    *b = sb;
}

#ifdef _OPENMP
#define GC_PAR_OWN_DONE(c)                                          \
    do {                                                            \
        if ((c)->team > 1 && omp_get_thread_num() == 0) gc_par_own_done(c); \
    } while (0)
#define GC_PARALLEL_RANGES(n, min_n, lo, hi, CALL)                                   \
    do {                                                                             \
        const int64_t gc_n_ = (n);                                                   \
        const int gc_team_ =                                                         \
            gc_n_ >= (min_n) ? gc_par_team(gc_max_threads(), gc_par_big(gc_n_, (min_n))) : 1; \
        if (gc_team_ > 1) {                                                          \
            gc_par_clock gc_clk_;                                                    \
            gc_par_start(&gc_clk_, gc_team_);                                        \
            _Pragma("omp parallel num_threads(gc_team_)")                            \
            {                                                                        \
                const int64_t gc_nt_ = omp_get_num_threads();                        \
                const int64_t gc_t_ = omp_get_thread_num();                          \
                int64_t lo, hi;                                                      \
                gc_par_chunk16(gc_t_, gc_nt_, gc_n_, &lo, &hi);                      \
                if (lo < hi) { CALL; }                                               \
                GC_PAR_OWN_DONE(&gc_clk_);                                           \
            }                                                                        \
            gc_par_finish(&gc_clk_);                                                 \
        } else if (gc_n_ > 0) {                                                      \
            const int64_t lo = 0, hi = gc_n_;                                        \
            CALL;                                                                    \
        }                                                                            \
    } while (0)
#else
#define GC_PAR_OWN_DONE(c) ((void)(c))
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
