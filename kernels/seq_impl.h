/* What the recurrent families share (lstm_impl.h, rnn_impl.h): the batch split over threads,
 * the input projections, the h_{t-1} matrix and the weight-gradient GEMMs, the carried
 * state gradients' start, the chunk-ordered sums of the threads' partial weight gradients and
 * squared norms, and the db column sums. What differs (the activation passes and their time
 * loops, the fork/join around them) stays in each family's body, as plain loops.
 * Included by each family's body (once per element type) after packgemm_impl.h; expects the
 * type macros of gc_template.h (FT, GC_NAME). G is the width of a step's pre-activation row:
 * 4H for the LSTM (gates i, f, g, o), H for the RNN. Batch-first layout: the row of step t of
 * sequence n is n*T + t.
 */

#ifndef GC_SEQ_COMMON
#define GC_SEQ_COMMON
/* Column block of the db column sums (double accumulators on the stack). */
#define GC_SEQ_DB_BLOCK 128

/* Sequences (batch rows) are independent: a row block of h_{t-1} only feeds the same row block
 * of step t. So threads split the BATCH and each runs the whole time loop on its rows with
 * single-threaded GEMMs (gc_gemm sees omp_in_parallel and does not split): one fork/join per
 * call instead of two per step, and no barrier inside the loop. Measured on 2 shared cores, a
 * per-step split (GEMM over N, then gate pass over rows) paid ~2 synchronisations per step,
 * which a competing process turned into milliseconds each.
 * The number of chunks: 1 below par_min elements N*T*H (the family's threshold), else one per
 * worker with at least min_rows batch rows each (the per-step GEMMs get M = rows). */
static inline int64_t gc_seq_chunks(int64_t N, int64_t T, int64_t H, int64_t nwork,
                                    int64_t par_min, int64_t min_rows) {
    if (nwork < 2 || N * T * H < par_min) return 1;
    int64_t k = nwork;
    if (k > N / min_rows) k = N / min_rows;
    return k < 1 ? 1 : k;
}

/* out[t] = sqrt of the sum over the nch chunks of nrm[k*stride + t], in chunk order:
 * deterministic for a given nwork. */
static inline void gc_seq_norms(const double *nrm, int64_t nch, int64_t T, int64_t stride,
                                double *out) {
    for (int64_t t = 0; t < T; ++t) {
        double s = 0.0;
        for (int64_t k = 0; k < nch; ++k) s += nrm[k * stride + t];
        out[t] = sqrt(s);
    }
}
#endif

/* A carried state gradient of the row block [n0, n0 + nr) starts at the given final one
 * (dhT / dcT), or 0 without one. */
static void GC_NAME(gc_seq_carry_start)(int64_t n0, int64_t nr, int64_t H, const FT *given,
                                        FT *carry) {
    if (given) memcpy(carry + n0 * H, given + n0 * H, (size_t)(nr * H) * sizeof(FT));
    else memset(carry + n0 * H, 0, (size_t)(nr * H) * sizeof(FT));
}

/* The start of a backward row block [n0, n0 + nr): hprev[N*T, H] gets h_{t-1} of every step
 * (h0, then hs shifted by one step; for the dWh GEMM), and the carried dL/dh (dh0's rows)
 * starts at dhT, or 0 without one. */
static void GC_NAME(gc_seq_bwd_start)(int64_t n0, int64_t nr, int64_t T, int64_t H,
                                      const FT *h0, const FT *hs, FT *hprev, const FT *dhT,
                                      FT *dh0) {
    for (int64_t n = n0; n < n0 + nr; ++n) {
        memcpy(hprev + n * T * H, h0 + n * H, (size_t)H * sizeof(FT));
        if (T > 1)
            memcpy(hprev + n * T * H + H, hs + n * T * H, (size_t)((T - 1) * H) * sizeof(FT));
    }
    GC_NAME(gc_seq_carry_start)(n0, nr, H, dhT, dh0);
}

/* The input projections of `rows` rows: out[rows, G] = x[rows, D] @ Wx[D, G] (the
pre-activations' first term; 0 when D = 0). */
static void GC_NAME(gc_seq_project)(int64_t rows, int64_t D, int64_t G, const FT *x,
                                    const FT *Wx, FT *out) {
    GC_GEMM(0, 0, rows, G, D, (FT)1, x, D > 0 ? D : 1, Wx, G, (FT)0, out, G);
}

/* The weight gradients of `rows` rows (x, hprev, da and dx at those rows, contiguous in the
 * batch-first layout): dWh[H, G] = beta dWh + Hprev^T dA, dWx[D, G] = beta dWx + X^T dA (beta
 * 1: accumulate into the gradients; 0: a thread's partial), dx[rows, D] = dA Wx^T. */
static void GC_NAME(gc_seq_weight_grads)(int64_t rows, int64_t D, int64_t H, int64_t G,
                                         const FT *x, const FT *hprev, const FT *da,
                                         const FT *Wx, FT beta, FT *dWh, FT *dWx, FT *dx) {
    GC_GEMM(1, 0, H, G, rows, (FT)1, hprev, H, da, G, beta, dWh, G); /* Hprev^T dA */
    if (D > 0) {
        GC_GEMM(1, 0, D, G, rows, (FT)1, x, D, da, G, beta, dWx, G); /* X^T dA */
        GC_GEMM(0, 1, rows, D, G, (FT)1, da, G, Wx, G, (FT)0, dx, D); /* dA Wx^T */
    }
}

/* dWh[H*G] += and dWx[D*G] += the sums of the nch threads' partials part[k*np_ .. ) (each the
 * [H+D, G] pair dWh, dWx of its rows), in chunk order: deterministic for a given nwork. */
static void GC_NAME(gc_seq_add_parts)(const FT *part, int64_t nch, int64_t H, int64_t D,
                                      int64_t G, FT *dWh, FT *dWx) {
    const int64_t np_ = (H + D) * G;
    const int team = gc_par_team(gc_max_threads(), gc_par_big(np_, GC_PARALLEL_MIN));
    (void)team;
#pragma omp parallel for simd schedule(static) num_threads(team) if (team > 1)
    for (int64_t j = 0; j < np_; ++j) {
        FT acc = part[j];
        for (int64_t k = 1; k < nch; ++k) acc += part[k * np_ + j];
        if (j < H * G) dWh[j] = dWh[j] + acc;
        else dWx[j - H * G] = dWx[j - H * G] + acc;
    }
}

/* db[G] += the column sums of dA[NT, G], in double; threads take column blocks (each column
 * summed in row order by one thread: deterministic). */
static void GC_NAME(gc_seq_db)(const FT *da, int64_t NT, int64_t G, FT *db) {
    const int64_t nblk = (G + GC_SEQ_DB_BLOCK - 1) / GC_SEQ_DB_BLOCK;
    const int team = gc_par_team(nblk, gc_par_big(NT * G, GC_PARALLEL_MIN));
    (void)team;
#pragma omp parallel for schedule(static) num_threads(team) if (team > 1)
    for (int64_t blk = 0; blk < nblk; ++blk) {
        const int64_t j0 = blk * GC_SEQ_DB_BLOCK;
        const int64_t w = G - j0 < GC_SEQ_DB_BLOCK ? G - j0 : GC_SEQ_DB_BLOCK;
        double acc[GC_SEQ_DB_BLOCK];
        for (int64_t j = 0; j < w; ++j) acc[j] = 0.0;
        for (int64_t r = 0; r < NT; ++r) {
            const FT *row = da + r * G + j0;
#pragma omp simd
            for (int64_t j = 0; j < w; ++j) acc[j] += (double)row[j];
        }
        for (int64_t j = 0; j < w; ++j) db[j0 + j] = db[j0 + j] + (FT)acc[j];
    }
}
