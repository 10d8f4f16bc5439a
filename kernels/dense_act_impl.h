/* The loops of the dense family for one activation, included by dense_impl.h once per
 * activation and element type. Expects GC_ACT (the activation's name: linear, relu, ...) and
 * the type macros of gc_template.h; GC_ACT_NAME(base) is base_<act>_<sfx>.
 *
 * Each activation gets its own copy of every loop, with the scalar f/d of that activation
 * inlined: the loop is specialised at compile time (one branch-free `omp simd` loop, no
 * switch inside it), and it is plain code a debugger steps through. dense_impl.h picks the
 * copy once per call, outside the loops (the GC_NAME(*_of) tables). */

#define GC_F GC_ACT_NAME(f)
#define GC_D GC_ACT_NAME(d)

/* standalone activation, elements [lo, hi) */
GC_CLONES static void GC_ACT_NAME(fwd_range)(const FT *x, FT *y, int64_t lo, int64_t hi) {
#pragma omp simd
    for (int64_t i = lo; i < hi; ++i) y[i] = GC_F(x[i]);
}

GC_CLONES static void GC_ACT_NAME(bwd_range)(const FT *dy, const FT *x, const FT *y, FT *dx,
                                             int64_t lo, int64_t hi) {
#pragma omp simd
    for (int64_t i = lo; i < hi; ++i) dx[i] = dy[i] * GC_D(x[i], y[i]);
}

/* Forward epilogue over rows [r0, r1) and columns [c0, c1): v = z + b; z = v; y = act(v).
 * One pass over z (and y). */
GC_CLONES static void GC_ACT_NAME(epi)(const FT *b, FT *z, FT *y, int64_t O, int64_t r0,
                                       int64_t r1, int64_t c0, int64_t c1) {
    for (int64_t r = r0; r < r1; ++r) {
        FT *zr = z + r * O;
        FT *yr = y + r * O;
#pragma omp simd
        for (int64_t o = c0; o < c1; ++o) {
            const FT v = zr[o] + b[o];
            zr[o] = v;
            yr[o] = GC_F(v);
        }
    }
}

/* Column block of the fused backward epilogue: dz = dy * act'(z, y) and db += sum_n dz over
 * columns [o0, o0 + w), w <= GC_DB_BLOCK. The column sums live in a double array on the
 * stack: the bias gradient of a float32 batch is summed in double (as the reference does),
 * and splitting columns across threads needs neither scratch nor a cross-thread reduction. */
GC_CLONES static void GC_ACT_NAME(bwd_blk)(const FT *dy, const FT *z, const FT *y, FT *dz,
                                           FT *db, int64_t N, int64_t O, int64_t o0,
                                           int64_t w) {
    double acc[GC_DB_BLOCK];
    for (int64_t j = 0; j < w; ++j) acc[j] = 0.0;
    for (int64_t r = 0; r < N; ++r) {
        const int64_t off = r * O + o0;
        const FT *dyr = dy + off, *zr = z + off, *yr = y + off;
        FT *dzr = dz + off;
#pragma omp simd
        for (int64_t j = 0; j < w; ++j) {
            const FT d = dyr[j] * GC_D(zr[j], yr[j]);
            dzr[j] = d;
            acc[j] += (double)d;
        }
    }
    for (int64_t j = 0; j < w; ++j) db[o0 + j] = db[o0 + j] + (FT)acc[j];
}

#undef GC_F
#undef GC_D
