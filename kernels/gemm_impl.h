/* Body of gc_gemm_f32 / gc_gemm_f64 and of the CBLAS provider of each type, included by
 * gemm.c once per element type (the type macros of gc_template.h; GC_NAME(g_gemm) is the
 * provider of that type, GC_NAME(g_cblas_gemm) the loaded cblas_?gemm).
 *
 * gc_gemm: small products go to the provider as they are; large ones are cut into
 * gc_gemm_block's blocks of columns (or rows: by_n == 0) and the blocks run on gradcore's
 * threads, each a single-threaded call. */
void GC_NAME(gc_gemm)(int transa, int transb, int64_t M, int64_t N, int64_t K, FT alpha,
                      const FT *A, int64_t lda, const FT *B, int64_t ldb, FT beta, FT *C,
                      int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    int by_n;
    int nth = gc_gemm_threads(M, N, K, &by_n);
    if (nth <= 1) {
        GC_NAME(g_gemm)(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    const int64_t ext = by_n ? N : M, bs = by_n ? GC_GEMM_NBLOCK : GC_GEMM_MBLOCK;
    const int64_t nblk = (ext + bs - 1) / bs;
    if (nth > nblk) nth = (int)nblk;
    const int team = gc_gemm_team(M, N, K, nth);
    gc_par_clock clk;
    gc_par_start(&clk, team);
#pragma omp parallel num_threads(team) if (team > 1)
    {
#pragma omp for schedule(static) nowait
        for (int t = 0; t < nth; ++t) {
            int64_t e0, e1;
            gc_gemm_block(t, nth, nblk, bs, ext, &e0, &e1);
            if (e1 <= e0) continue;
            if (by_n) {
                const FT *Bs = transb ? B + e0 * ldb : B + e0;
                GC_NAME(g_gemm)(transa, transb, M, e1 - e0, K, alpha, A, lda, Bs, ldb, beta,
                                C + e0, ldc);
            } else {
                const FT *As = transa ? A + e0 : A + e0 * lda;
                GC_NAME(g_gemm)(transa, transb, e1 - e0, N, K, alpha, As, lda, B, ldb, beta,
                                C + e0 * ldc, ldc);
            }
        }
        GC_PAR_OWN_DONE(&clk);
    }
    gc_par_finish(&clk);
}

/* The row-major CBLAS provider: thread-local thread count 1 around the call, when given. */
static void GC_NAME(gc_cblas_gemm_rowmajor)(int transa, int transb, int64_t M, int64_t N,
                                            int64_t K, FT alpha, const FT *A, int64_t lda,
                                            const FT *B, int64_t ldb, FT beta, FT *C,
                                            int64_t ldc) {
    const int prev = g_cblas_threads_local ? g_cblas_threads_local(1) : 0;
    GC_NAME(g_cblas_gemm)(GC_CBLAS_ROW_MAJOR, transa ? GC_CBLAS_TRANS : GC_CBLAS_NO_TRANS,
                          transb ? GC_CBLAS_TRANS : GC_CBLAS_NO_TRANS, (int)M, (int)N, (int)K,
                          alpha, A, gc_ld(lda), B, gc_ld(ldb), beta, C, gc_ld(ldc));
    if (g_cblas_threads_local) g_cblas_threads_local(prev);
}
