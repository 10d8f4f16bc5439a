/* Exhaustive check of act_stats' float32 saturation test (kernels/stats.c): for every one of
 * the 2^32 float32 bit patterns y and each threshold below, the float compares
 * y < lo || y > hi against the bounds of gc_stats_sat_bounds give the same boolean as the
 * contract's double test (double)y * (1.0 - (double)y) < thr (sat 1), 1.0 - (double)y * (double)y
 * < thr (sat 2). Build with the kernels' flags (no fma contraction), e.g.
 *   cc -std=c99 -O3 -ffp-contract=off -fno-math-errno -Ikernels/include -Ikernels \
 *      tests/c/stats_sat_exhaustive.c -lm && ./a.out       (./a.out quick: 4 thresholds)
 * (-march=native -fopenmp: ~6 s for the quick set on 2 cores.) Exit status 0 and "ok" if every case agrees; run by tests/test_stats_kernels.py. */
#include "stats.c"
#include "common.c" /* the thread plumbing stats.c calls (gc_max_threads, gc_par_*) */

#include <stdio.h>

/* mismatches of the float test over the 2^16 bit patterns hi16 << 16 | i (vectorisable) */
static long long block(int sat, double thr, float lo, float hi, uint32_t hi16, long long *nsat) {
    long long nbad = 0, ns = 0;
    for (int32_t i = 0; i < 65536; ++i) {
        const uint32_t u = hi16 << 16 | (uint32_t)i;
        float y;
        memcpy(&y, &u, sizeof y);
        const double v = (double)y;
        const int ref = sat == 1 ? v * (1.0 - v) < thr : 1.0 - v * v < thr;
        const int fast = (y < lo) | (y > hi);
        nbad += fast != ref;
        ns += ref;
    }
    *nsat += ns;
    return nbad;
}

int main(int argc, char **argv) {
    /* the first 4 with any argument (quick), all without */
    static const double thrs[] = {0.01, 0.25, 1e-30, 0.0, 1e-4, 0.1, 0.2499999999, 0.25000001,
                                  0.999, 1.0, 1.5, 1e-50, 5e-324};
    const int nthr = argc > 1 ? 4 : (int)(sizeof thrs / sizeof thrs[0]);
    long long bad = 0;
    for (int sat = 1; sat <= 2; ++sat) {
        for (int t = 0; t < nthr; ++t) {
            float lo, hi;
            gc_stats_sat_bounds(sat, thrs[t], &lo, &hi);
            long long nbad = 0, nsat = 0;
#pragma omp parallel for schedule(static) reduction(+ : nbad, nsat)
            for (int32_t h = 0; h < 65536; ++h)
                nbad += block(sat, thrs[t], lo, hi, (uint32_t)h, &nsat);
            printf("sat %d thr %-12g lo %-14.9g hi %-14.9g saturated %lld mismatches %lld\n",
                   sat, thrs[t], (double)lo, (double)hi, nsat, nbad);
            bad += nbad;
        }
    }
    printf(bad ? "FAILED\n" : "ok\n");
    return bad != 0;
}
