/* Body of the lstm family, included by lstm.c once per element type.
 * Expects the type macros of gc_template.h: FT, SFX, GC_SIGMOID, GC_TANH (gc_fastmath.h:
 * vectorisable, same formulas as the reference: σ from e = exp(-|a|) <= 1, never overflows),
 * GC_GEMM. The recurrent products use the packed GEMM of packgemm_impl.h (same type).
 *
 * Batch-first layout: the row of step t of sequence n is n*T + t, so the per-step slices of
 * x / gates / hs / cs are strided (row stride T*D, T*4H, T*H): the GEMMs take those strides
 * as lda/ldc instead of copying. Threads split the batch (see gc_seq_chunks): each runs its
 * rows' input projection, time loop and weight-gradient GEMMs (single-threaded BLAS calls on
 * contiguous rows). With one chunk the large GEMMs run serially here and gc_gemm may split
 * them over its own threads.
 * The gate passes are GC_CLONES functions. GCC 12 vectorises their AVX2 clones only with
 * -fno-tree-pre -fno-tree-sink (set for lstm.c in CMakeLists.txt): otherwise PRE and code
 * sinking move the float->int conversion of gc_expneg under a branch, if-conversion then
 * fails ("control flow in loop") and the AVX2 clone ran scalar, 1.6x slower than SSE2.
 */

#include "packgemm_impl.h"
#include "seq_impl.h" /* shared with rnn_impl.h: batch split, projections, hprev, dW, sums */

#ifndef GC_LSTM_PAR_MIN
/* N*T*H elements (each 4-5 exp/tanh, tens of ns) above which the time loop runs on threads,
 * and the fewest batch rows a thread takes (the per-step GEMMs get M = rows). */
#define GC_LSTM_PAR_MIN 32768
#define GC_LSTM_MIN_ROWS 4
#endif

/* The batch split over threads (why the batch, not the steps: gc_seq_chunks, seq_impl.h). */
#define GC_LSTM_CHUNKS(N, T, H, nwork) \
    gc_seq_chunks(N, T, H, nwork, GC_LSTM_PAR_MIN, GC_LSTM_MIN_ROWS)

/* The fused gate pass of one row of one step: activates a[4H] in place, writes c_t and h_t. */
GC_CLONES static void GC_NAME(gc_lstm_gates_fwd)(const int64_t H, FT *restrict a,
                                                 const FT *restrict b, const FT *restrict cpr,
                                                 FT *restrict cr, FT *restrict hr) {
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
        const FT i = GC_SIGMOID(a[j] + b[j]);
        const FT f = GC_SIGMOID(a[H + j] + b[H + j]);
        const FT g = GC_TANH(a[2 * H + j] + b[2 * H + j]);
        const FT o = GC_SIGMOID(a[3 * H + j] + b[3 * H + j]);
        const FT c = f * cpr[j] + i * g;
        a[j] = i;
        a[H + j] = f;
        a[2 * H + j] = g;
        a[3 * H + j] = o;
        cr[j] = c;
        hr[j] = o * GC_TANH(c);
    }
}

/* One row block [n0, n1) of the forward time loop. */
static void GC_NAME(gc_lstm_forward_rows)(int64_t n0, int64_t n1, const int64_t T,
                                          const int64_t H, const FT *Whp, const FT *b,
                                          const FT *h0, const FT *c0, FT *hs, FT *cs,
                                          FT *gates) {
    const int64_t G = 4 * H, nr = n1 - n0;
    for (int64_t t = 0; t < T; ++t) {
        const FT *hp = t ? hs + n0 * T * H + (t - 1) * H : h0 + n0 * H;
        const FT *cp = t ? cs + n0 * T * H + (t - 1) * H : c0 + n0 * H;
        const int64_t ldp = t ? T * H : H; /* row stride of h_{t-1}, c_{t-1} */
        /* a_t += h_{t-1} @ Wh (packed), into the strided [nr, 4H] slice of step t */
        GC_NAME(gc_pg_gemm)(nr, G, H, hp, ldp, Whp, 1, gates + n0 * T * G + t * G, T * G);
        for (int64_t n = 0; n < nr; ++n) {
            FT *a = gates + ((n0 + n) * T + t) * G;
            const FT *cpr = cp + n * ldp;
            FT *cr = cs + ((n0 + n) * T + t) * H;
            FT *hr = hs + ((n0 + n) * T + t) * H;
            GC_NAME(gc_lstm_gates_fwd)(H, a, b, cpr, cr, hr);
        }
    }
}

int GC_NAME(gc_lstm_forward)(const FT *x, int64_t N, int64_t T, int64_t D, int64_t H,
                             const FT *Wx, const FT *Wh, const FT *b, const FT *h0,
                             const FT *c0, FT *hs, FT *cs, FT *gates, FT *wpack,
                             int64_t nwork) {
    if (N < 0 || T < 1 || D < 0 || H < 1 || nwork < 1) return GC_EBADSIZE;
    if (N == 0) return GC_OK;
    const int64_t G = 4 * H, NT = N * T;
    GC_NAME(gc_pg_pack)(0, H, G, Wh, G, wpack); /* Wh[H, 4H] into column panels, once */
    const int64_t nch = GC_LSTM_CHUNKS(N, T, H, nwork);
    if (nch == 1) {
        /* input projections of every step at once (gc_gemm may split it over its threads):
         * gates[N*T, 4H] = x[N*T, D] @ Wx */
        GC_NAME(gc_seq_project)(NT, D, G, x, Wx, gates);
        GC_NAME(gc_lstm_forward_rows)(0, N, T, H, wpack, b, h0, c0, hs, cs, gates);
        return GC_OK;
    }
    /* each thread projects its own sequences (rows n0*T .. n1*T of x and gates are contiguous
     * in the batch-first layout), then runs their time loop: one fork/join in all */
    const int team = gc_par_team(nch, 1); /* nch > 1: above GC_LSTM_PAR_MIN already */
    gc_par_clock clk;
    gc_par_start(&clk, team);
#pragma omp parallel num_threads(team) if (team > 1)
    {
#pragma omp for schedule(static) nowait
        for (int64_t k = 0; k < nch; ++k) {
            const int64_t n0 = N * k / nch, n1 = N * (k + 1) / nch;
            GC_NAME(gc_seq_project)((n1 - n0) * T, D, G, x + n0 * T * D, Wx, gates + n0 * T * G);
            GC_NAME(gc_lstm_forward_rows)(n0, n1, T, H, wpack, b, h0, c0, hs, cs, gates);
        }
        GC_PAR_OWN_DONE(&clk);
    }
    gc_par_finish(&clk);
    return GC_OK;
}

/* The fused gate pass of one row of one step, backward: from the activated gates gt[4H],
 * c_t, the incoming dL/dh_t and the carries (dhc: from step t+1, dcc: dL/dc from step t+1)
 * writes the pre-activation gradients dar[4H], moves dcc to c_{t-1}, and adds the squared
 * norms of the total dL/dh_t, dL/dc_t to sq[0], sq[1] (double). */
GC_CLONES static void GC_NAME(gc_lstm_gates_bwd)(const int64_t H, const FT *restrict gt,
                                                 const FT *restrict ct, const FT *restrict dht,
                                                 const FT *restrict cpr, FT *restrict dar,
                                                 const FT *restrict dhc, FT *restrict dcc,
                                                 double *restrict sq) {
    double sh = 0.0, sc = 0.0;
#pragma omp simd reduction(+ : sh, sc)
    for (int64_t j = 0; j < H; ++j) {
        const FT i = gt[j], f = gt[H + j], g = gt[2 * H + j], o = gt[3 * H + j];
        const FT tc = GC_TANH(ct[j]);
        const FT dh = dht[j] + dhc[j];                     /* total dL/dh_t */
        const FT dc = dcc[j] + dh * o * ((FT)1 - tc * tc); /* total dL/dc_t */
        sh += (double)dh * (double)dh;
        sc += (double)dc * (double)dc;
        const FT do_ = dh * tc, di = dc * g, dg = dc * i, df = dc * cpr[j];
        dar[j] = di * (i * ((FT)1 - i));
        dar[H + j] = df * (f * ((FT)1 - f));
        dar[2 * H + j] = dg * ((FT)1 - g * g);
        dar[3 * H + j] = do_ * (o * ((FT)1 - o));
        dcc[j] = dc * f; /* into c_{t-1} */
    }
    sq[0] += sh;
    sq[1] += sc;
}

/* One row block [n0, n1) of the backward time loop; the squared norms of the block's total
 * dL/dh_t, dL/dc_t go to nh[t], nc[t]. dh0 / dc0 rows carry the recurrent gradients. */
static void GC_NAME(gc_lstm_backward_rows)(int64_t n0, int64_t n1, const int64_t T,
                                           const int64_t H, const FT *dhs, const FT *dhT,
                                           const FT *dcT, const FT *WhTp, const FT *c0,
                                           const FT *cs, const FT *gates, FT *dh0, FT *dc0,
                                           FT *da, const FT *h0, const FT *hs, FT *hprev,
                                           double *nh, double *nc) {
    const int64_t G = 4 * H, nr = n1 - n0;
    GC_NAME(gc_seq_bwd_start)(n0, nr, T, H, h0, hs, hprev, dhT, dh0); /* hprev; dh carry */
    GC_NAME(gc_seq_carry_start)(n0, nr, H, dcT, dc0);                 /* the dc carry */
    for (int64_t t = T - 1; t >= 0; --t) {
        const FT *cp = t ? cs + (t - 1) * H : c0;
        const int64_t ldp = t ? T * H : H;
        double sq[2] = {0.0, 0.0};
        for (int64_t n = n0; n < n1; ++n)
            GC_NAME(gc_lstm_gates_bwd)(H, gates + (n * T + t) * G, cs + (n * T + t) * H,
                                       dhs + (n * T + t) * H, cp + n * ldp, da + (n * T + t) * G,
                                       dh0 + n * H, dc0 + n * H, sq);
        const double sh = sq[0], sc = sq[1];
        nh[t] = sh;
        nc[t] = sc;
        /* into h_{t-1}: da_t @ Wh^T (packed; da_t is the strided [nr, 4H] slice of step t) */
        GC_NAME(gc_pg_gemm)(nr, H, G, da + n0 * T * G + t * G, T * G, WhTp, 0, dh0 + n0 * H, H);
    }
}

int GC_NAME(gc_lstm_backward)(const FT *dhs, const FT *dhT, const FT *dcT, const FT *x,
                              int64_t N, int64_t T, int64_t D, int64_t H, const FT *Wx,
                              const FT *Wh, const FT *h0, const FT *c0, const FT *hs,
                              const FT *cs, const FT *gates, FT *dx, FT *dWx, FT *dWh, FT *db,
                              FT *dh0, FT *dc0, double *dh_norm, double *dc_norm, FT *da,
                              FT *hprev, FT *wpack, FT *part, double *nrm, int64_t nwork) {
    if (N < 0 || T < 1 || D < 0 || H < 1 || nwork < 1) return GC_EBADSIZE;
    if (N == 0) {
        for (int64_t t = 0; t < T; ++t) dh_norm[t] = dc_norm[t] = 0.0;
        return GC_OK;
    }
    const int64_t G = 4 * H, NT = N * T;
    const int64_t nch = GC_LSTM_CHUNKS(N, T, H, nwork);
    GC_NAME(gc_pg_pack)(1, G, H, Wh, G, wpack); /* Wh^T[4H, H] into column panels, once */
    /* the time loop; chunk k's squared norms in nrm[k*2T .. k*2T + 2T) */
    if (nch == 1) {
        GC_NAME(gc_lstm_backward_rows)(0, N, T, H, dhs, dhT, dcT, wpack, c0, cs, gates, dh0, dc0,
                                       da, h0, hs, hprev, nrm, nrm + T);
        /* weight gradients as a few large GEMMs over all N*T rows (accumulated: beta 1) */
        GC_NAME(gc_seq_weight_grads)(NT, D, H, G, x, hprev, da, Wx, (FT)1, dWh, dWx, dx);
    } else {
        /* Each thread, after its time loop, multiplies its own rows (contiguous in the
         * batch-first layout): dx rows directly, and partial dWh, dWx into its slot of `part`
         * ([H+D, 4H] each). No BLAS call is split, no operand is packed twice, and the rows
         * just written are still warm. The partials are added below in chunk order. */
        const int team = gc_par_team(nch, 1);
        gc_par_clock clk;
        gc_par_start(&clk, team);
#pragma omp parallel num_threads(team) if (team > 1)
        {
#pragma omp for schedule(static) nowait
        for (int64_t k = 0; k < nch; ++k) {
            const int64_t n0 = N * k / nch, n1 = N * (k + 1) / nch, rows = (n1 - n0) * T;
            GC_NAME(gc_lstm_backward_rows)(n0, n1, T, H, dhs, dhT, dcT, wpack, c0, cs, gates,
                                           dh0, dc0, da, h0, hs, hprev, nrm + k * 2 * T,
                                           nrm + k * 2 * T + T);
            FT *pk = part + k * (H + D) * G; /* this chunk's partial dWh, dWx (beta 0) */
            GC_NAME(gc_seq_weight_grads)(rows, D, H, G, x + n0 * T * D, hprev + n0 * T * H,
                                         da + n0 * T * G, Wx, (FT)0, pk, pk + H * G,
                                         dx + n0 * T * D);
        }
        GC_PAR_OWN_DONE(&clk);
        }
        gc_par_finish(&clk);
        GC_NAME(gc_seq_add_parts)(part, nch, H, D, G, dWh, dWx); /* in chunk order */
    }
    gc_seq_norms(nrm, nch, T, 2 * T, dh_norm); /* chunk k's dh norms at nrm[k*2T] */
    gc_seq_norms(nrm + T, nch, T, 2 * T, dc_norm); /* its dc norms at nrm[k*2T + T] */
    GC_NAME(gc_seq_db)(da, NT, G, db); /* db += column sums of dA, in double */
    return GC_OK;
}

int64_t GC_NAME(gc_lstm_part_size)(int64_t D, int64_t H, int64_t nwork) {
    return nwork > 1 ? nwork * (H + D) * 4 * H : 1;
}

int64_t GC_NAME(gc_lstm_wpack_size)(int64_t H, int backward) {
    return backward ? GC_NAME(gc_pg_size)(4 * H, H) : GC_NAME(gc_pg_size)(H, 4 * H);
}
