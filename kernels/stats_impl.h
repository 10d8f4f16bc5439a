/* Body of the stats family, included by stats.c once per element type.
 * Expects the type macros of gc_template.h (FT, SFX, GC_F32). */

/* per-type tuning */
#if GC_F32
#define GC_STATS_LANESAT 1 /* saturation test as float compares against [lo, hi] */
#define GC_STATS_CT32 1    /* int32 column counts (tiles flushed into int64) */
#define GC_STATS_CT int32_t
#define GC_STATS_ROWS4 1
#else
#define GC_STATS_LANESAT 0 /* in double, as the contract */
#define GC_STATS_CT32 0    /* int64 column counts: as wide as the double lanes */
#define GC_STATS_CT int64_t
#define GC_STATS_ROWS4 0
#endif

/* ---- act_stats ------------------------------------------------------------------------------
 * The hot loop reads each element once and updates, in double: sum, sum of squares, min, max,
 * the saturation count and the column's non-zero count. The non-finite and NaN counts are NOT
 * in it: inf^2 = inf and NaN propagate, so a finite sum of squares proves every element finite
 * (both counts 0, as in norms); only otherwise (a diverged layer) a second pass counts them.
 * min/max skip NaN in the hot loop (v < mn is false for NaN) and become NaN after that pass
 * if it found one. So the lanes' min/max never hold a NaN and their combination is exact
 * in any order, as are the integer counts; only the two sums depend on the summation order. */

/* Sums in three levels: vector lanes over blocks of <= GC_STATS_SUMBLOCK elements, block sums
 * into a partial flushed every GC_STATS_SUMFLUSH elements, partials into the total. Activations
 * cluster on few values (ReLU zeros, saturated tanh near +-1), so the rounding errors of one
 * long running sum do not cancel: a sequential float64 sum of squares of 2.6e5 such float32
 * values was off by 1.5e-12 (relative) against NumPy's pairwise sum; blocked, ~1e-14. */
#ifndef GC_STATS_SUMBLOCK
#define GC_STATS_SUMBLOCK 512
#endif
#ifndef GC_STATS_SUMFLUSH
#define GC_STATS_SUMFLUSH 65536
#endif

/* The element's saturation test (sat 1 or 2; y the element, v = (double)y): float32 compares
 * against the non-saturated interval [lo, hi] (stats.c), double otherwise. */
#if GC_STATS_LANESAT
#define GC_STATS_SAT(sat, y, v) (((y) < lo) | ((y) > hi))
#else
#define GC_STATS_SAT(sat, y, v) ((sat) == 1 ? (v) * (1.0 - (v)) < thr : 1.0 - (v) * (v) < thr)
#endif

/* rows [0, nrows) of width w <= GC_STATS_TILE and row stride ld: cnt[j] += (x[r, j] != 0)
 * (int32: the caller flushes before 2^31 rows), *a updated. Only the two sums are in double;
 * the compares and min/max run in the element type's lanes (exact: min/max of float values are
 * float values), so a 256-bit vector holds 8 float32 elements through most of the loop.
 * Four rows at a time: one cnt[j] update and one add into each running sum per 4 elements,
 * and one reduction epilogue per 4 rows (a 256-wide float32 row alone spent ~15% of its time
 * in it); a block sums <= 4 x GC_STATS_SUMBLOCK elements. The min/max of 4 rows are a tree:
 * with a NaN among them a lane may lose a value, but then the sum of squares is NaN and the
 * caller's second pass makes min and max NaN anyway.
 * sat is a compile-time constant in each caller below, so its test folds out of the loop. */
GC_INLINE void GC_NAME(rows_body)(const FT *x, int64_t nrows, int64_t w, int64_t ld,
                                  GC_STATS_CT *cnt, int64_t *cnt64, double thr, FT lo, FT hi,
                                  int sat, gc_stats_acc *a) {
    double s = 0.0, ss = 0.0, ps = 0.0, pss = 0.0;
    FT mn = (FT)a->mn, mx = (FT)a->mx; /* +-inf or an element: exact */
    int64_t nsat = 0, npart = 0;
    (void)thr;
    (void)lo;
    (void)hi;
    int64_t r = 0;
    for (; GC_STATS_ROWS4 && r + 4 <= nrows; r += 4) {
        const FT *x0 = x + r * ld, *x1 = x0 + ld, *x2 = x1 + ld, *x3 = x2 + ld;
        for (int64_t j0 = 0; j0 < w; j0 += GC_STATS_SUMBLOCK) {
            const int64_t j1 = w - j0 > GC_STATS_SUMBLOCK ? j0 + GC_STATS_SUMBLOCK : w;
            double bs = 0.0, bss = 0.0;
            GC_STATS_CT bsat = 0;
#pragma omp simd reduction(+ : bs, bss, bsat) reduction(min : mn) reduction(max : mx)
            for (int64_t j = j0; j < j1; ++j) {
                const FT y0 = x0[j], y1 = x1[j], y2 = x2[j], y3 = x3[j];
                const double v0 = (double)y0, v1 = (double)y1, v2 = (double)y2, v3 = (double)y3;
                const int nz = ((y0 != 0) + (y1 != 0)) + ((y2 != 0) + (y3 != 0)); /* NaN != 0 */
                if (cnt64) cnt64[j] += nz;
                else cnt[j] += nz;
                bs += (v0 + v1) + (v2 + v3);
                bss += (v0 * v0 + v1 * v1) + (v2 * v2 + v3 * v3);
                const FT a01 = y0 < y1 ? y0 : y1, a23 = y2 < y3 ? y2 : y3;
                const FT b01 = y0 > y1 ? y0 : y1, b23 = y2 > y3 ? y2 : y3;
                const FT a = a01 < a23 ? a01 : a23, b = b01 > b23 ? b01 : b23;
                mn = a < mn ? a : mn;
                mx = b > mx ? b : mx;
                if (sat) /* NaN compares false: never saturated */
                    bsat += (GC_STATS_SAT(sat, y0, v0) + GC_STATS_SAT(sat, y1, v1)) +
                            (GC_STATS_SAT(sat, y2, v2) + GC_STATS_SAT(sat, y3, v3));
            }
            nsat += bsat;
            ps += bs;
            pss += bss;
            npart += 4 * (j1 - j0);
            if (npart >= GC_STATS_SUMFLUSH) {
                s += ps;
                ss += pss;
                ps = pss = 0.0;
                npart = 0;
            }
        }
    }
    for (; r < nrows; ++r) {
        const FT *row = x + r * ld;
        for (int64_t j0 = 0; j0 < w; j0 += GC_STATS_SUMBLOCK) {
            const int64_t j1 = w - j0 > GC_STATS_SUMBLOCK ? j0 + GC_STATS_SUMBLOCK : w;
            double bs = 0.0, bss = 0.0;
            GC_STATS_CT bsat = 0;
#pragma omp simd reduction(+ : bs, bss, bsat) reduction(min : mn) reduction(max : mx)
            for (int64_t j = j0; j < j1; ++j) {
                const FT y = row[j];
                const double v = (double)y;
                if (cnt64) cnt64[j] += y != 0;
                else cnt[j] += y != 0;
                bs += v;
                bss += v * v;
                mn = y < mn ? y : mn; /* NaN skipped */
                mx = y > mx ? y : mx;
                if (sat) bsat += GC_STATS_SAT(sat, y, v);
            }
            nsat += bsat;
            ps += bs;
            pss += bss;
            npart += j1 - j0;
            if (npart >= GC_STATS_SUMFLUSH) {
                s += ps;
                ss += pss;
                ps = pss = 0.0;
                npart = 0;
            }
        }
    }
    a->s += s + ps;
    a->ss += ss + pss;
    a->mn = (double)mn;
    a->mx = (double)mx;
    a->nsat += nsat;
}

/* cnt64 == NULL: counts into cnt (GC_STATS_CT); else straight into int64 cnt64 (a float32
 * pass over 1-3 rows, where zeroing and flushing an int32 tile would cost more than it saves:
 * [1, 32768] 13 -> 20 us). A constant in each clone: the test folds out of the loop. */
#define GC_STATS_ROWS_SAT(k, name, W)                                                          \
    GC_CLONES static void GC_NAME(name)(const FT *x, int64_t nrows, int64_t w, int64_t ld,    \
                                        GC_STATS_CT *cnt, int64_t *c64, double thr, FT lo,    \
                                        FT hi, gc_stats_acc *a) {                             \
        GC_NAME(rows_body)(x, nrows, w, ld, cnt, W ? c64 : NULL, thr, lo, hi, k, a);         \
    }
GC_STATS_ROWS_SAT(0, rows_sat0, 0)
GC_STATS_ROWS_SAT(1, rows_sat1, 0)
GC_STATS_ROWS_SAT(2, rows_sat2, 0)
#if GC_STATS_CT32
GC_STATS_ROWS_SAT(0, rows_sat0w, 1)
GC_STATS_ROWS_SAT(1, rows_sat1w, 1)
GC_STATS_ROWS_SAT(2, rows_sat2w, 1)
#endif
#undef GC_STATS_ROWS_SAT

/* float32, >= 4 rows: column tiles of <= GC_STATS_TILE columns counted in int32 on the stack
 * (8 KiB) and added to cnt (int64) every <= GC_STATS_RFLUSH rows, before an int32 count could
 * overflow; fewer rows count straight into cnt. float64: int64 counts as before (as wide as
 * its lanes; int32 counts and 4-row passes made it slower: [128, 256] sat 1 9.1 -> 15 us). */
#ifndef GC_STATS_TILE
#define GC_STATS_TILE 2048
#endif
#ifndef GC_STATS_RFLUSH
#define GC_STATS_RFLUSH ((int64_t)1 << 30)
#endif

static void GC_NAME(rows)(const FT *x, int64_t nrows, int64_t w, int64_t ld, int64_t *cnt,
                          double thr, FT lo, FT hi, int sat, gc_stats_acc *a) {
#if GC_STATS_CT32
    if (nrows < 4) {
        if (nrows <= 0 || w <= 0) return;
        if (sat == 1) GC_NAME(rows_sat1w)(x, nrows, w, ld, NULL, cnt, thr, lo, hi, a);
        else if (sat == 2) GC_NAME(rows_sat2w)(x, nrows, w, ld, NULL, cnt, thr, lo, hi, a);
        else GC_NAME(rows_sat0w)(x, nrows, w, ld, NULL, cnt, thr, lo, hi, a);
        return;
    }
    int32_t c32[GC_STATS_TILE];
    for (int64_t j0 = 0; j0 < w; j0 += GC_STATS_TILE) {
        const int64_t tw = w - j0 > GC_STATS_TILE ? GC_STATS_TILE : w - j0;
        for (int64_t r0 = 0; r0 < nrows; r0 += GC_STATS_RFLUSH) {
            const int64_t nr = nrows - r0 > GC_STATS_RFLUSH ? GC_STATS_RFLUSH : nrows - r0;
            const FT *xt = x + r0 * ld + j0;
            for (int64_t j = 0; j < tw; ++j) c32[j] = 0;
            if (sat == 1) GC_NAME(rows_sat1)(xt, nr, tw, ld, c32, NULL, thr, lo, hi, a);
            else if (sat == 2) GC_NAME(rows_sat2)(xt, nr, tw, ld, c32, NULL, thr, lo, hi, a);
            else GC_NAME(rows_sat0)(xt, nr, tw, ld, c32, NULL, thr, lo, hi, a);
            for (int64_t j = 0; j < tw; ++j) cnt[j0 + j] += c32[j];
        }
    }
#else
    if (nrows <= 0 || w <= 0) return;
    if (sat == 1) GC_NAME(rows_sat1)(x, nrows, w, ld, cnt, NULL, thr, lo, hi, a);
    else if (sat == 2) GC_NAME(rows_sat2)(x, nrows, w, ld, cnt, NULL, thr, lo, hi, a);
    else GC_NAME(rows_sat0)(x, nrows, w, ld, cnt, NULL, thr, lo, hi, a);
#endif
}

/* How the pass is cut (the per-row vector loop pays a reduction epilogue of ~20-30 cycles, so
 * rows must be long; colnz partials live on the stack, as kernels never allocate):
 * - C < GC_STATS_WIDE (e.g. [N, 10] logits, [N, 1]): k = GC_STATS_BUNDLE / C consecutive rows
 *   are read as one row of W = k*C contiguous elements counted into a local cnt[W] (column
 *   j % C); a last partial bundle of (M % k) rows is one row of (M % k)*C elements;
 * - C <= GC_STATS_LOCAL: plain rows (k = 1, W = C), local cnt[C] when threaded;
 * - wider (a 1-d array is [1, N]): each thread owns a block of >= GC_STATS_COLBLOCK columns
 *   (16-aligned: no two threads write one cache line of colnz) for all rows.
 * Threaded, each thread takes contiguous (bundled) rows and adds its local counts to colnz with
 * atomics: integer additions, exact in any order. A column split at C = 128 (64 columns per
 * thread) was slower than one thread: [1600, 128] float32 137 us vs 89 us. */
#ifndef GC_STATS_WIDE
#define GC_STATS_WIDE 128
#endif
#define GC_STATS_BUNDLE (2 * GC_STATS_WIDE)
#ifndef GC_STATS_LOCAL
#define GC_STATS_LOCAL 2048 /* int64 counts: 16 KiB of each thread's stack */
#endif
#ifndef GC_STATS_COLBLOCK
#define GC_STATS_COLBLOCK 512
#endif
#ifndef GC_STATS_MAX_CHUNKS
#define GC_STATS_MAX_CHUNKS 256
#endif

/* Bundled rows [b0, b1) (of W <= GC_STATS_LOCAL elements; plus the partial bundle of `tail`
 * elements that follows row b1 - 1 when tail > 0) counted locally, folded onto the C columns
 * and added to colnz (pre-zeroed): with atomics when threaded (integer additions, exact in any
 * order). One atomic per bundle column cost ~1 us of the 1.3 us of a [128, 10] call. */
static void GC_NAME(bundles)(const FT *x, int64_t C, int64_t W, int64_t b0, int64_t b1,
                             int64_t tail, double thr, FT lo, FT hi, int sat, int threaded,
                             int64_t *colnz, gc_stats_acc *a) {
    int64_t cnt[GC_STATS_LOCAL];
    for (int64_t j = 0; j < W; ++j) cnt[j] = 0;
    GC_NAME(rows)(x + b0 * W, b1 - b0, W, W, cnt, thr, lo, hi, sat, a);
    GC_NAME(rows)(x + b1 * W, tail > 0 ? 1 : 0, tail, tail, cnt, thr, lo, hi, sat, a);
    for (int64_t j0 = C; j0 < W; j0 += C)
        for (int64_t c = 0; c < C; ++c) cnt[c] += cnt[j0 + c];
    if (!threaded) {
        for (int64_t c = 0; c < C; ++c) colnz[c] += cnt[c];
        return;
    }
    for (int64_t c = 0; c < C; ++c) {
        const int64_t v = cnt[c];
        if (v) {
#ifdef _OPENMP
#pragma omp atomic
#endif
            colnz[c] += v;
        }
    }
}

/* Non-finite and NaN counts of x[0:n]: only after a non-finite sum of squares (see above). */
static void GC_NAME(count_bad)(const FT *x, int64_t n, int64_t *nbad, int64_t *nnan) {
    int64_t b = 0, q = 0;
    for (int64_t i = 0; i < n; ++i) {
        b += !isfinite(x[i]);
        q += isnan(x[i]) ? 1 : 0;
    }
    *nbad = b;
    *nnan = q;
}

/* Threads: from GC_PARALLEL_MIN elements. Measured (float32, sat 1, 2-core AMD EPYC, median of
 * 600 calls, 1 / 2 threads): [256, 256] 26.9 / 21.7 us; [1600, 128] 88.1 / 64.8 us;
 * [4096, 256] 413 / 229 us; [1, 300000] 140 / 94 us; [9000, 10] 46.7 / 24.1 us. While another
 * process ran on the machine, the medians of every thread count (and of the other OpenMP
 * kernels) at times jumped to ~8 ms: the call was descheduled for a time slice.
 * float32 rework (float lanes for compares/min/max, int32 column counts, saturation as float
 * compares against [lo, hi], 4 rows per vector pass, no `omp parallel` for one chunk), Python
 * `_kernels.act_stats`, 1 thread, median / min of 60 x 200 calls, thr 0.01, before -> after:
 *   f32 [128, 256] sat 0: 11.3/11.2 -> 7.7/7.4 us; sat 1: 14.7/14.6 -> 9.0/8.9; sat 2: 13.9/13.7
 *     -> 9.0/8.8; f32 [32, 256] sat 1: 4.5/4.5 -> 2.9/2.8; f32 [128, 10] sat 1: 2.3/2.3 ->
 *   1.3/1.3; f32 [1600, 128] sat 1: 88.7/88.2 -> 59.7/57.0 (2 threads 51.3/45.1 -> 30.8/29.7);
 *   f64 [128, 256] sat 1: 10.2/10.1 -> 9.6/9.5 (f64 keeps the double test and int64 counts).
 * The rest is the FP adder ports: vcvtps2pd (2 uops per 4 elements on Zen 4) and the double
 * adds share them; an fma(v, v, ss) (bit-identical for float32 input: v*v is exact) gained
 * ~6% but needs an avx2+fma clone (not done); a call costs ~0.55 us in the Cython binding. */
int GC_NAME(gc_stats_act_stats)(const FT *x, int64_t M, int64_t C, int sat, double threshold,
                                int64_t *colnz, double *out) {
    if (M < 0 || C < 0) return GC_EBADSIZE;
    if (sat < 0 || sat > 2) return GC_EBADARG;
    const int64_t n = M * C;
    for (int64_t c = 0; c < C; ++c) colnz[c] = 0;
    gc_stats_acc part[GC_STATS_MAX_CHUNKS];
    int64_t nch = 1;
    const int by_col = C > GC_STATS_LOCAL;
    const int64_t k = C >= GC_STATS_WIDE ? 1 : GC_STATS_BUNDLE / (C > 0 ? C : 1);
    const int64_t W = k * C, Mb = M / k, tail = (M % k) * C;
    if (n >= GC_PARALLEL_MIN && !gc_par_nested()) nch = gc_max_threads();
    if (nch > GC_STATS_MAX_CHUNKS) nch = GC_STATS_MAX_CHUNKS;
    if (by_col && nch > C / GC_STATS_COLBLOCK) nch = C / GC_STATS_COLBLOCK;
    if (!by_col && nch > Mb) nch = Mb;
    if (nch < 1) nch = 1;
    for (int64_t q = 0; q < nch; ++q) {
        part[q].s = part[q].ss = 0.0;
        part[q].mn = (double)INFINITY;
        part[q].mx = -(double)INFINITY;
        part[q].nsat = 0;
    }
    FT lo = (FT)0, hi = (FT)0;
#if GC_STATS_LANESAT
    if (sat && n > 0) gc_stats_sat_bounds(sat, threshold, &lo, &hi);
#endif
    /* column blocks (or all columns on one thread, counted straight into colnz), else bundled
     * rows. One chunk runs outside any parallel construct: even with if (false) an `omp
     * parallel` costs libgomp a serialized team, ~0.4 us of a 1-element call's 0.5 us. */
    const int cols = by_col || (nch == 1 && k == 1);
    const int team = gc_par_team(nch, gc_par_big(n, GC_PARALLEL_MIN));
    gc_par_clock clk;
    gc_par_start(&clk, team);
    if (n > 0 && nch == 1) {
        if (cols) GC_NAME(rows)(x, M, C, C, colnz, threshold, lo, hi, sat, &part[0]);
        else GC_NAME(bundles)(x, C, W, 0, Mb, tail, threshold, lo, hi, sat, 0, colnz, &part[0]);
    } else if (n > 0 && cols) {
#pragma omp parallel num_threads(team) if (team > 1)
        {
#pragma omp for schedule(static) nowait
            for (int64_t q = 0; q < nch; ++q) {
                int64_t c0, c1;
                gc_par_chunk16(q, nch, C, &c0, &c1);
                if (c0 < c1)
                    GC_NAME(rows)(x + c0, M, c1 - c0, C, colnz + c0, threshold, lo, hi, sat,
                                  &part[q]);
            }
            GC_PAR_OWN_DONE(&clk);
        }
    } else if (n > 0) {
#pragma omp parallel num_threads(team) if (team > 1)
        {
#pragma omp for schedule(static) nowait
            for (int64_t q = 0; q < nch; ++q) {
                const int64_t b0 = Mb * q / nch, b1 = Mb * (q + 1) / nch;
                GC_NAME(bundles)(x, C, W, b0, b1, q == nch - 1 ? tail : 0, threshold, lo, hi,
                                 sat, 1, colnz, &part[q]);
            }
            GC_PAR_OWN_DONE(&clk);
        }
    }
    gc_par_finish(&clk);
    /* partials combined in chunk order: the sums are deterministic for a given thread count */
    double s = 0.0, ss = 0.0, mn = (double)INFINITY, mx = -(double)INFINITY;
    int64_t nsat = 0, nbad = 0, nnan = 0;
    for (int64_t q = 0; q < nch; ++q) {
        s += part[q].s;
        ss += part[q].ss;
        mn = part[q].mn < mn ? part[q].mn : mn;
        mx = part[q].mx > mx ? part[q].mx : mx;
        nsat += part[q].nsat;
    }
    /* a finite double sum of squares can only come from finite elements (overflow needs
     * |x| > 1e154, impossible for float data): the common path is a single pass */
    if (!isfinite(ss)) GC_NAME(count_bad)(x, n, &nbad, &nnan);
    if (nnan) mn = mx = (double)NAN;
    out[0] = s;
    out[1] = ss;
    out[2] = mn;
    out[3] = mx;
    out[4] = (double)nsat;
    out[5] = (double)nbad;
    return GC_OK;
}

/* ---- segment_delta_sumsq -------------------------------------------------------------------
 * Streams new and prev once (read, read, write prev): 12 bytes per float32 element, against
 * 8 for a plain copy. Chunked over the whole buffer like gc_norms_segment_sumsq: one fork/join
 * for all segments, partials of a segment crossing a chunk edge added in chunk order. */

GC_CLONES static void GC_NAME(delta_block)(const FT *restrict nw, FT *restrict pv, int64_t lo,
                                           int64_t hi, double *d2out, double *n2out) {
    double d2 = 0.0, n2 = 0.0;
#pragma omp simd reduction(+ : d2, n2)
    for (int64_t i = lo; i < hi; ++i) {
        const FT a = nw[i];
        const double v = (double)a, d = v - (double)pv[i];
        d2 += d * d;
        n2 += v * v;
        pv[i] = a;
    }
    *d2out = d2;
    *n2out = n2;
}

/* [lo, hi) in blocks summed as in act_stats (block sums, partials flushed every
 * GC_STATS_SUMFLUSH elements): parameters of a frozen or slowly moving tensor repeat values. */
static void GC_NAME(delta_range)(const FT *nw, FT *pv, int64_t lo, int64_t hi, double *d2out,
                                 double *n2out) {
    double d2 = 0.0, n2 = 0.0;
    for (int64_t f0 = lo; f0 < hi; f0 += GC_STATS_SUMFLUSH) {
        const int64_t f1 = hi - f0 > GC_STATS_SUMFLUSH ? f0 + GC_STATS_SUMFLUSH : hi;
        double pd = 0.0, pn = 0.0;
        for (int64_t b0 = f0; b0 < f1; b0 += 4 * GC_STATS_SUMBLOCK) {
            const int64_t b1 = f1 - b0 > 4 * GC_STATS_SUMBLOCK ? b0 + 4 * GC_STATS_SUMBLOCK : f1;
            double bd, bn;
            GC_NAME(delta_block)(nw, pv, b0, b1, &bd, &bn);
            pd += bd;
            pn += bn;
        }
        d2 += pd;
        n2 += pn;
    }
    *d2out = d2;
    *n2out = n2;
}

/* Chunk [c0, c1): segments strictly inside get their sums written; the first and last ones it
 * touches return partials (index, delta, new) in f[] / l[]. */
static void GC_NAME(delta_chunk)(const FT *nw, FT *pv, const int64_t *offsets, int64_t nseg,
                                 int64_t c0, int64_t c1, double *dsum, double *nsum, int64_t *sf,
                                 double *pf, int64_t *sl, double *pl) {
    const int64_t s0 = gc_segment_of(offsets, nseg, c0);
    const int64_t s1 = gc_segment_of(offsets, nseg, c1 - 1);
    *sf = s0;
    *sl = s1;
    pf[0] = pf[1] = pl[0] = pl[1] = 0.0;
    for (int64_t s = s0; s <= s1; ++s) {
        const int64_t a = offsets[s] > c0 ? offsets[s] : c0;
        const int64_t b = offsets[s + 1] < c1 ? offsets[s + 1] : c1;
        double d2 = 0.0, n2 = 0.0;
        if (a < b) GC_NAME(delta_range)(nw, pv, a, b, &d2, &n2);
        if (s == s0) {
            pf[0] = d2;
            pf[1] = n2;
        } else if (s == s1) {
            pl[0] = d2;
            pl[1] = n2;
        } else {
            dsum[s] = d2;
            nsum[s] = n2;
        }
    }
}

int GC_NAME(gc_stats_segment_delta_sumsq)(const FT *new_, FT *prev, const int64_t *offsets,
                                          int64_t nseg, double *delta_sumsq,
                                          double *new_sumsq) {
    if (gc_check_offsets(offsets, nseg) != GC_OK) return GC_EBADSIZE;
    const int64_t P = nseg > 0 ? offsets[nseg] : 0;
    for (int64_t s = 0; s < nseg; ++s) delta_sumsq[s] = new_sumsq[s] = 0.0;
    if (P <= 0) return GC_OK;
    int64_t nch = 1;
    if (P >= GC_PARALLEL_MIN && !gc_par_nested()) nch = gc_max_threads();
    if (nch > GC_STATS_MAX_CHUNKS) nch = GC_STATS_MAX_CHUNKS;
    int64_t sf[GC_STATS_MAX_CHUNKS], sl[GC_STATS_MAX_CHUNKS];
    double pf[GC_STATS_MAX_CHUNKS][2], pl[GC_STATS_MAX_CHUNKS][2];
    for (int64_t q = 0; q < nch; ++q) {
        sf[q] = sl[q] = -1;
        pf[q][0] = pf[q][1] = pl[q][0] = pl[q][1] = 0.0;
    }
    const int team = gc_par_team(nch, gc_par_big(P, GC_PARALLEL_MIN));
    gc_par_clock clk;
    gc_par_start(&clk, team);
#pragma omp parallel num_threads(team) if (team > 1)
    {
#pragma omp for schedule(static) nowait
        for (int64_t q = 0; q < nch; ++q) {
            int64_t c0, c1;
            gc_par_chunk16(q, nch, P, &c0, &c1);
            if (c0 < c1)
                GC_NAME(delta_chunk)(new_, prev, offsets, nseg, c0, c1, delta_sumsq, new_sumsq,
                                     &sf[q], pf[q], &sl[q], pl[q]);
        }
        GC_PAR_OWN_DONE(&clk);
    }
    gc_par_finish(&clk);
    for (int64_t q = 0; q < nch; ++q) {
        if (sf[q] < 0) continue;
        delta_sumsq[sf[q]] += pf[q][0];
        new_sumsq[sf[q]] += pf[q][1];
        if (sl[q] != sf[q]) {
            delta_sumsq[sl[q]] += pl[q][0];
            new_sumsq[sl[q]] += pl[q][1];
        }
    }
    return GC_OK;
}

#undef GC_STATS_SAT
#undef GC_STATS_LANESAT
#undef GC_STATS_CT32
#undef GC_STATS_CT
#undef GC_STATS_ROWS4
