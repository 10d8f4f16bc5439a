/* Thread-count plumbing shared by all kernel families, and the fork policy of gc_parallel.h. */
#include "gradcore/common.h"
#include "gc_parallel.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Process-wide state, read by every Python thread's kernels: relaxed atomics (a stale read
 * only changes who runs a chunk, never a result). */
#if defined(__GNUC__)
#define GC_LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define GC_STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define GC_ADD(x, v) ((void)__atomic_fetch_add(&(x), (v), __ATOMIC_RELAXED))
#else
#define GC_LOAD(x) (x)
#define GC_STORE(x, v) ((x) = (v))
#define GC_ADD(x, v) ((x) += (v))
#endif

static int g_threads = 0;              /* configured count; 0 = not read from OpenMP yet */
static int g_adaptive = 1;             /* contention back-off on */
static int64_t g_fork_milli = (int64_t)(GC_FORK_SCALE * 1000); /* fork scale x 1000 */
static int64_t g_backoff_until = 0;    /* ns (omp_get_wtime clock); 0 = no back-off */
static int64_t g_backoff_len = 0;      /* current back-off period, ns */
static int64_t g_last_contended = 0;   /* ns of the last contended region; 0 = never */
static int64_t g_contended = 0;        /* regions found contended since import */

int gc_have_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

static int gc_clamp_threads(int64_t n) {
    return n < 1 ? 1 : n > GC_MAX_THREADS ? GC_MAX_THREADS : (int)n;
}

int gc_max_threads(void) {
#ifdef _OPENMP
    int n = GC_LOAD(g_threads);
    if (n <= 0) {
        /* OpenMP's default (OMP_NUM_THREADS, else the usable cores), clamped: libgomp puts
         * ~0.1 KiB per thread of a team on the forking thread's stack (alloca), so an
         * unbounded count (OMP_NUM_THREADS=100000) overflowed an 8 MiB stack. */
        n = gc_clamp_threads(omp_get_max_threads());
        GC_STORE(g_threads, n);
    }
    return n;
#else
    return 1;
#endif
}

/* One process-wide count (omp_set_num_threads only sets the calling OS thread's value: a
 * Python thread started later would still have used OMP_NUM_THREADS); every region passes it
 * in num_threads(). Clamped to [1, GC_MAX_THREADS]. */
void gc_set_num_threads(int n) {
#ifdef _OPENMP
    GC_STORE(g_threads, gc_clamp_threads(n));
#else
    (void)n;
#endif
}

/* ---- fork policy ------------------------------------------------------------------------ */

static int64_t gc_now_ns(void) {
#ifdef _OPENMP
    return (int64_t)(omp_get_wtime() * 1e9);
#else
    return 0;
#endif
}

int gc_par_big(int64_t work, int64_t min) {
    return (double)work * 1000.0 >= (double)min * (double)GC_LOAD(g_fork_milli);
}

int gc_par_nested(void) {
#ifdef _OPENMP
    return omp_get_level() > 0;
#else
    return 0;
#endif
}

int gc_par_team(int64_t nchunks, int big) {
#ifdef _OPENMP
    if (nchunks < 2 || !big || omp_get_level() > 0) return 1;
    const int64_t until = GC_LOAD(g_backoff_until);
    if (until != 0 && GC_LOAD(g_adaptive)) {
        if (gc_now_ns() < until) return 1;
        GC_STORE(g_backoff_until, (int64_t)0); /* period over: this region is the probe */
    }
    const int n = gc_max_threads();
    return nchunks < n ? (int)nchunks : n;
#else
    (void)nchunks;
    (void)big;
    return 1;
#endif
}

void gc_par_start(gc_par_clock *c, int team) {
    c->team = team;
    c->own = 0;
    c->t0 = team > 1 ? gc_now_ns() : 0;
}

void gc_par_own_done(gc_par_clock *c) { c->own = gc_now_ns(); }

void gc_par_finish(gc_par_clock *c) {
    if (c->team <= 1 || c->own == 0 || !GC_LOAD(g_adaptive)) return;
    const int64_t now = gc_now_ns();
    const int64_t own = c->own - c->t0, wait = now - c->own;
    if (wait > GC_PAR_WAIT_NS && wait > own) {
        /* Contention seen: back off for twice the last period (capped), or for the minimum if
         * the last contended region is long past. A clean probe does NOT reset the period:
         * under intermittent contention (one competitor on two cores: most regions clean,
         * some waiting a whole time slice) a reset made every probe after a clean one pay
         * for a new slice every 20 ms; measured (bench.contention, fork scale 1), the small
         * MLP step under one competitor went from 1.87x to 1.04x the one-thread time. */
        const int64_t last = GC_LOAD(g_last_contended);
        int64_t len = GC_LOAD(g_backoff_len);
        len = (len == 0 || last == 0 || now - last > GC_PAR_FORGET_NS)
                  ? GC_PAR_BACKOFF_MIN_NS
                  : (len >= GC_PAR_BACKOFF_MAX_NS / 2 ? GC_PAR_BACKOFF_MAX_NS : 2 * len);
        GC_STORE(g_backoff_len, len);
        GC_STORE(g_backoff_until, now + len);
        GC_STORE(g_last_contended, now);
        GC_ADD(g_contended, 1);
    }
}

/* Off: regions ignore the back-off (its state is kept, and resumes when turned on again). */
void gc_par_set_adaptive(int on) { GC_STORE(g_adaptive, on ? 1 : 0); }

int gc_par_get_adaptive(void) { return GC_LOAD(g_adaptive); }

void gc_par_set_fork_scale(double scale) {
    GC_STORE(g_fork_milli, scale > 0 && scale < 1e12 ? (int64_t)(scale * 1000.0 + 0.5)
                                                     : (int64_t)(GC_FORK_SCALE * 1000));
}

double gc_par_get_fork_scale(void) { return (double)GC_LOAD(g_fork_milli) / 1000.0; }

void gc_par_backoff(int64_t ns) {
    const int64_t now = gc_now_ns();
    GC_STORE(g_backoff_len, ns > 0 ? ns : (int64_t)0);
    GC_STORE(g_backoff_until, ns > 0 ? now + ns : (int64_t)0);
}

void gc_par_stats(int64_t *contended, int64_t *backoff_left_ns) {
    *contended = GC_LOAD(g_contended);
    const int64_t until = GC_LOAD(g_backoff_until);
    const int64_t left = until != 0 ? until - gc_now_ns() : 0;
    *backoff_left_ns = left > 0 ? left : 0;
}
