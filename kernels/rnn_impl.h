/* Body of the rnn family (a plain tanh RNN), included by rnn.c once per element type.
 * Expects the type macros of gc_template.h: FT, SFX, GC_NAME, GC_TANH (gc_fastmath.h:
 * vectorisable, the formula of the LSTM's tanh), GC_GEMM. The recurrent products use the
 * packed GEMM of packgemm_impl.h (same type), included below as the LSTM's body does.
 *
 * Built like the LSTM (lstm_impl.h, whose comments give the measurements behind the choices):
 * batch-first layout, so the row of step t of sequence n is n*T + t and the per-step slices
 * of x / hs / da are strided (row stride T*D, T*H): the GEMMs take those strides as lda/ldc
 * instead of copying. hs first receives the input projections and is activated in place step
 * by step (no pre-activation buffer: tanh' = 1 - h², so the backward needs hs only).
 * Threads split the batch (gc_seq_chunks): each runs its rows' input projection, time loop and
 * weight-gradient GEMMs; one fork/join per call, no barrier inside the time loop.
 */

#include "packgemm_impl.h"
#include "seq_impl.h" /* shared with lstm_impl.h: batch split, projections, hprev, dW, sums */

#ifndef GC_RNN_PAR_MIN
/* N*T*H elements above which the time loop runs on threads, and the fewest batch rows a
 * thread takes (the per-step products get M = rows): the LSTM's values. A step costs about a
 * quarter of the LSTM's (an [M,H]x[H,H] product and one tanh per element, against [M,H]x[H,4H]
 * and five exp/tanh). Measured (float32 forward+backward, 2 cores shared with other builds,
 * best of 30, 1 vs 2 threads): N*T*H = 32768 is about break-even (N=16 T=32 H=64: 0.26 vs
 * 0.28 ms; N=32 T=32 H=32: 0.21 vs 0.19 ms), 819200 (N=256 T=50 H=64) 29.5 vs 25.7 ms. */
#define GC_RNN_PAR_MIN 32768
#define GC_RNN_MIN_ROWS 4
#endif

/* The batch split over threads (why the batch, not the steps: gc_seq_chunks, seq_impl.h). */
#define GC_RNN_CHUNKS(N, T, H, nwork) \
    gc_seq_chunks(N, T, H, nwork, GC_RNN_PAR_MIN, GC_RNN_MIN_ROWS)

/* The tanh pass of one row of one step: h[j] = tanh(a[j] + b[j]), in place. */
GC_CLONES static void GC_NAME(gc_rnn_act_fwd)(const int64_t H, FT *restrict a,
                                              const FT *restrict b) {
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) a[j] = GC_TANH(a[j] + b[j]);
}

/* One row block [n0, n1) of the forward time loop (hs holds x Wx on entry). */
static void GC_NAME(gc_rnn_forward_rows)(int64_t n0, int64_t n1, const int64_t T,
                                         const int64_t H, const FT *Whp, const FT *b,
                                         const FT *h0, FT *hs) {
    const int64_t nr = n1 - n0;
    for (int64_t t = 0; t < T; ++t) {
        const FT *hp = t ? hs + n0 * T * H + (t - 1) * H : h0 + n0 * H;
        const int64_t ldp = t ? T * H : H; /* row stride of h_{t-1} */
        FT *ht = hs + n0 * T * H + t * H;
        /* a_t += h_{t-1} @ Wh (packed), into the strided [nr, H] slice of step t */
        GC_NAME(gc_pg_gemm)(nr, H, H, hp, ldp, Whp, 1, ht, T * H);
        for (int64_t n = 0; n < nr; ++n) GC_NAME(gc_rnn_act_fwd)(H, ht + n * T * H, b);
    }
}

int GC_NAME(gc_rnn_forward)(const FT *x, int64_t N, int64_t T, int64_t D, int64_t H,
                            const FT *Wx, const FT *Wh, const FT *b, const FT *h0, FT *hs,
                            FT *wpack, int64_t nwork) {
    if (N < 0 || T < 1 || D < 0 || H < 1 || nwork < 1) return GC_EBADSIZE;
    if (N == 0) return GC_OK;
    const int64_t NT = N * T;
    GC_NAME(gc_pg_pack)(0, H, H, Wh, H, wpack); /* Wh[H, H] into column panels, once */
    const int64_t nch = GC_RNN_CHUNKS(N, T, H, nwork);
    if (nch == 1) {
        /* input projections of every step at once: hs[N*T, H] = x[N*T, D] @ Wx */
        GC_NAME(gc_seq_project)(NT, D, H, x, Wx, hs);
        GC_NAME(gc_rnn_forward_rows)(0, N, T, H, wpack, b, h0, hs);
        return GC_OK;
    }
    /* each thread projects its own sequences (rows n0*T .. n1*T of x and hs are contiguous),
     * then runs their time loop: one fork/join in all */
    const int team = gc_par_team(nch, 1); /* nch > 1: above GC_RNN_PAR_MIN already */
    gc_par_clock clk;
    gc_par_start(&clk, team);
#pragma omp parallel num_threads(team) if (team > 1)
    {
#pragma omp for schedule(static) nowait
        for (int64_t k = 0; k < nch; ++k) {
            const int64_t n0 = N * k / nch, n1 = N * (k + 1) / nch;
            GC_NAME(gc_seq_project)((n1 - n0) * T, D, H, x + n0 * T * D, Wx, hs + n0 * T * H);
            GC_NAME(gc_rnn_forward_rows)(n0, n1, T, H, wpack, b, h0, hs);
        }
        GC_PAR_OWN_DONE(&clk);
    }
    gc_par_finish(&clk);
    return GC_OK;
}

/* The fused pass of one row of one step, backward: from h_t, the incoming dL/dh_t (dht) and
 * the carry from step t+1 (dhc) writes the pre-activation gradient dar = δh (1 - h²) and
 * returns the squared norm of the total δh = dht + dhc (double). */
GC_CLONES static double GC_NAME(gc_rnn_act_bwd)(const int64_t H, const FT *restrict ht,
                                                const FT *restrict dht, const FT *restrict dhc,
                                                FT *restrict dar) {
    double sh = 0.0;
#pragma omp simd reduction(+ : sh)
    for (int64_t j = 0; j < H; ++j) {
        const FT dh = dht[j] + dhc[j]; /* total dL/dh_t */
        sh += (double)dh * (double)dh;
        dar[j] = dh * ((FT)1 - ht[j] * ht[j]);
    }
    return sh;
}

/* One row block [n0, n1) of the backward time loop; the squared norms of the block's total
 * dL/dh_t go to nh[t]. The dh0 rows carry the recurrent gradient. */
static void GC_NAME(gc_rnn_backward_rows)(int64_t n0, int64_t n1, const int64_t T,
                                          const int64_t H, const FT *dhs, const FT *dhT,
                                          const FT *WhTp, const FT *h0, const FT *hs, FT *dh0,
                                          FT *da, FT *hprev, double *nh) {
    const int64_t nr = n1 - n0;
    GC_NAME(gc_seq_bwd_start)(n0, nr, T, H, h0, hs, hprev, dhT, dh0); /* hprev; dh carry */
    for (int64_t t = T - 1; t >= 0; --t) {
        double sq = 0.0;
        for (int64_t n = n0; n < n1; ++n) {
            const int64_t r = (n * T + t) * H;
            sq += GC_NAME(gc_rnn_act_bwd)(H, hs + r, dhs + r, dh0 + n * H, da + r);
        }
        nh[t] = sq;
        /* into h_{t-1}: da_t @ Wh^T (packed; da_t is the strided [nr, H] slice of step t) */
        GC_NAME(gc_pg_gemm)(nr, H, H, da + n0 * T * H + t * H, T * H, WhTp, 0, dh0 + n0 * H, H);
    }
}

int GC_NAME(gc_rnn_backward)(const FT *dhs, const FT *dhT, const FT *x, int64_t N, int64_t T,
                             int64_t D, int64_t H, const FT *Wx, const FT *Wh, const FT *h0,
                             const FT *hs, FT *dx, FT *dWx, FT *dWh, FT *db, FT *dh0,
                             double *dh_norm, FT *da, FT *hprev, FT *wpack, FT *part,
                             double *nrm, int64_t nwork) {
    if (N < 0 || T < 1 || D < 0 || H < 1 || nwork < 1) return GC_EBADSIZE;
    if (N == 0) {
        for (int64_t t = 0; t < T; ++t) dh_norm[t] = 0.0;
        return GC_OK;
    }
    const int64_t NT = N * T;
    const int64_t nch = GC_RNN_CHUNKS(N, T, H, nwork);
    GC_NAME(gc_pg_pack)(1, H, H, Wh, H, wpack); /* Wh^T[H, H] into column panels, once */
    /* the time loop; chunk k's squared norms in nrm[k*T .. k*T + T) */
    if (nch == 1) {
        GC_NAME(gc_rnn_backward_rows)(0, N, T, H, dhs, dhT, wpack, h0, hs, dh0, da, hprev, nrm);
        /* weight gradients as a few large GEMMs over all N*T rows (accumulated: beta 1) */
        GC_NAME(gc_seq_weight_grads)(NT, D, H, H, x, hprev, da, Wx, (FT)1, dWh, dWx, dx);
    } else {
        /* Each thread, after its time loop, multiplies its own rows (contiguous in the
         * batch-first layout): dx rows directly, and partial dWh, dWx into its slot of `part`
         * ([H+D, H] each), added below in chunk order (as the LSTM's backward). */
        const int team = gc_par_team(nch, 1);
        gc_par_clock clk;
        gc_par_start(&clk, team);
#pragma omp parallel num_threads(team) if (team > 1)
        {
#pragma omp for schedule(static) nowait
            for (int64_t k = 0; k < nch; ++k) {
                const int64_t n0 = N * k / nch, n1 = N * (k + 1) / nch, rows = (n1 - n0) * T;
                GC_NAME(gc_rnn_backward_rows)(n0, n1, T, H, dhs, dhT, wpack, h0, hs, dh0, da,
                                              hprev, nrm + k * T);
                FT *pk = part + k * (H + D) * H; /* this chunk's partial dWh, dWx (beta 0) */
                GC_NAME(gc_seq_weight_grads)(rows, D, H, H, x + n0 * T * D, hprev + n0 * T * H,
                                             da + n0 * T * H, Wx, (FT)0, pk, pk + H * H,
                                             dx + n0 * T * D);
            }
            GC_PAR_OWN_DONE(&clk);
        }
        gc_par_finish(&clk);
        GC_NAME(gc_seq_add_parts)(part, nch, H, D, H, dWh, dWx); /* in chunk order */
    }
    gc_seq_norms(nrm, nch, T, T, dh_norm); /* chunk k's squared norms at nrm[k*T] */
    GC_NAME(gc_seq_db)(da, NT, H, db); /* db += column sums of dA, in double */
    return GC_OK;
}

int64_t GC_NAME(gc_rnn_part_size)(int64_t D, int64_t H, int64_t nwork) {
    return nwork > 1 ? nwork * (H + D) * H : 1;
}

int64_t GC_NAME(gc_rnn_wpack_size)(int64_t H) { return GC_NAME(gc_pg_size)(H, H); }
