/* Body of the optim family, included by optim.c once per element type
 * (gc_template.h: FT, SFX, GC_SQRT, GC_FABS).
 *
 * Each optimizer is an always-inline body whose option flags are compile-time constants at
 * every call site of its dispatcher, so each combination becomes its own branch-free
 * `omp simd` loop; GC_PARALLEL_RANGES hands each OpenMP thread one contiguous chunk. The
 * element formulas follow the reference line by line (see optim.py for the torch mapping):
 * `a * b * c` is `(a * b) * c`, `a * b / c` is `(a * b) / c`, lerp has ATen's two branches. */

/* ------------------------------------------------------------------------------ SGD */
typedef struct {
    FT lr, wd, mom, damp1; /* damp1 = FT(1 - dampening) */
} GC_NAME(sgd_hp);

GC_INLINE void GC_NAME(sgd_body)(FT *p, const FT *g, FT *buf, int64_t lo, int64_t hi,
                                 GC_NAME(sgd_hp) h, const int WD, const int MOM,
                                 const int FIRST, const int NEST) {
#pragma omp simd
    for (int64_t i = lo; i < hi; ++i) {
        FT d = g[i];
        if (WD) d = d + h.wd * p[i];
        if (MOM) {
            FT b;
            if (FIRST) {
                b = d;
            } else {
                b = buf[i] * h.mom;
                b = b + h.damp1 * d;
            }
            buf[i] = b;
            d = NEST ? d + h.mom * b : b;
        }
        p[i] = p[i] - h.lr * d;
    }
}

GC_CLONES static void GC_NAME(sgd_range)(FT *p, const FT *g, FT *buf, int64_t lo, int64_t hi,
                               GC_NAME(sgd_hp) h, int wd, int mom, int first, int nest) {
#define GC_B(a, b, c, d) GC_NAME(sgd_body)(p, g, buf, lo, hi, h, a, b, c, d)
    if (!mom) {
        if (wd) GC_B(1, 0, 0, 0); else GC_B(0, 0, 0, 0);
    } else if (wd) {
        if (first) { if (nest) GC_B(1, 1, 1, 1); else GC_B(1, 1, 1, 0); }
        else { if (nest) GC_B(1, 1, 0, 1); else GC_B(1, 1, 0, 0); }
    } else {
        if (first) { if (nest) GC_B(0, 1, 1, 1); else GC_B(0, 1, 1, 0); }
        else { if (nest) GC_B(0, 1, 0, 1); else GC_B(0, 1, 0, 0); }
    }
#undef GC_B
}

int GC_NAME(gc_optim_sgd_step)(FT *p, const FT *g, FT *buf, int64_t n, double lr, double momentum,
                               double dampening, int nesterov, double weight_decay, int first) {
    if (n < 0) return GC_EBADSIZE;
    if (nesterov && (momentum <= 0 || dampening != 0)) return GC_EBADARG;
    GC_NAME(sgd_hp) h;
    h.lr = (FT)lr;
    h.wd = (FT)weight_decay;
    h.mom = (FT)momentum;
    h.damp1 = (FT)(1.0 - dampening);
    const int wd = weight_decay != 0, mom = momentum != 0;
    GC_PARALLEL_RANGES(n, GC_PARALLEL_MIN, lo, hi,
                       GC_NAME(sgd_range)(p, g, buf, lo, hi, h, wd, mom, first != 0,
                                          nesterov != 0));
    return GC_OK;
}

/* ------------------------------------------------------------------------------ RMSprop */
typedef struct {
    FT lr, alpha, oma, eps, wd, mom; /* oma = FT(1 - alpha): the lerp weight and the d^2 factor */
    FT oma1;                         /* 1 - oma, in FT (lerp's second branch) */
} GC_NAME(rms_hp);

GC_INLINE void GC_NAME(rms_body)(FT *p, const FT *g, FT *sq, FT *ga, FT *mb, int64_t lo, int64_t hi,
                                 GC_NAME(rms_hp) h, const int WD, const int CEN, const int MOM,
                                 const int HI) {
#pragma omp simd
    for (int64_t i = lo; i < hi; ++i) {
        FT d = g[i];
        if (WD) d = d + h.wd * p[i];
        FT s = sq[i] * h.alpha;
        s = s + (h.oma * d) * d;
        sq[i] = s;
        FT avg;
        if (CEN) {
            FT a = ga[i];
            a = HI ? d - (d - a) * h.oma1 : a + h.oma * (d - a); /* lerp(a, d, 1 - alpha) */
            ga[i] = a;
            avg = GC_SQRT(s - a * a);
        } else {
            avg = GC_SQRT(s);
        }
        avg = avg + h.eps;
        if (MOM) {
            FT b = mb[i] * h.mom;
            b = b + d / avg;
            mb[i] = b;
            p[i] = p[i] - h.lr * b;
        } else {
            p[i] = p[i] - (h.lr * d) / avg;
        }
    }
}

GC_CLONES static void GC_NAME(rms_range)(FT *p, const FT *g, FT *sq, FT *ga, FT *mb, int64_t lo,
                                         int64_t hi, GC_NAME(rms_hp) h, int wd, int cen, int mom,
                                         int hiw) {
#define GC_B(a, b, c, d) GC_NAME(rms_body)(p, g, sq, ga, mb, lo, hi, h, a, b, c, d)
#define GC_B3(a, b, c) \
    if (hiw) GC_B(a, b, c, 1); else GC_B(a, b, c, 0)
    if (wd) {
        if (cen) { if (mom) { GC_B3(1, 1, 1); } else { GC_B3(1, 1, 0); } }
        else { if (mom) GC_B(1, 0, 1, 0); else GC_B(1, 0, 0, 0); }
    } else {
        if (cen) { if (mom) { GC_B3(0, 1, 1); } else { GC_B3(0, 1, 0); } }
        else { if (mom) GC_B(0, 0, 1, 0); else GC_B(0, 0, 0, 0); }
    }
#undef GC_B3
#undef GC_B
}

int GC_NAME(gc_optim_rmsprop_step)(FT *p, const FT *g, FT *square_avg, FT *grad_avg, FT *mom_buf,
                                   int64_t n, double lr, double alpha, double eps,
                                   double weight_decay, double momentum, int centered) {
    if (n < 0) return GC_EBADSIZE;
    GC_NAME(rms_hp) h;
    h.lr = (FT)lr;
    h.alpha = (FT)alpha;
    h.oma = (FT)(1.0 - alpha);
    h.oma1 = (FT)1 - h.oma;
    h.eps = (FT)eps;
    h.wd = (FT)weight_decay;
    h.mom = (FT)momentum;
    const int wd = weight_decay != 0, mom = momentum > 0, cen = centered != 0;
    const int hiw = !(GC_FABS(h.oma) < (FT)0.5); /* ATen lerp: second formula for |w| >= 0.5 */
    GC_PARALLEL_RANGES(n, GC_PARALLEL_MIN, lo, hi,
                       GC_NAME(rms_range)(p, g, square_avg, grad_avg, mom_buf, lo, hi, h, wd,
                                          cen, mom, hiw));
    return GC_OK;
}

/* ------------------------------------------------------------------------------ AdaGrad */
GC_INLINE void GC_NAME(adagrad_body)(FT *p, const FT *g, FT *ss, int64_t lo, int64_t hi, FT clr,
                                     FT wdt, FT eps, const int WD) {
#pragma omp simd
    for (int64_t i = lo; i < hi; ++i) {
        FT d = g[i];
        if (WD) d = d + wdt * p[i];
        const FT s = ss[i] + d * d;
        ss[i] = s;
        const FT std = GC_SQRT(s) + eps;
        p[i] = p[i] - (clr * d) / std;
    }
}

GC_CLONES static void GC_NAME(adagrad_range)(FT *p, const FT *g, FT *ss, int64_t lo, int64_t hi,
                                             FT clr, FT wdt, FT eps, int wd) {
    if (wd) GC_NAME(adagrad_body)(p, g, ss, lo, hi, clr, wdt, eps, 1);
    else GC_NAME(adagrad_body)(p, g, ss, lo, hi, clr, wdt, eps, 0);
}

int GC_NAME(gc_optim_adagrad_step)(FT *p, const FT *g, FT *state_sum, int64_t n, double lr,
                                   double lr_decay, double weight_decay, double eps,
                                   int64_t step) {
    if (n < 0) return GC_EBADSIZE;
    if (step < 1) return GC_EBADARG;
    const FT clr = (FT)(lr / (1.0 + (double)(step - 1) * lr_decay));
    const FT wdt = (FT)weight_decay, epst = (FT)eps;
    const int wd = weight_decay != 0;
    GC_PARALLEL_RANGES(n, GC_PARALLEL_MIN, lo, hi,
                       GC_NAME(adagrad_range)(p, g, state_sum, lo, hi, clr, wdt, epst, wd));
    return GC_OK;
}

/* ------------------------------------------------------------------------------ Adam/AdamW */
typedef struct {
    FT decay;       /* FT(1 - lr wd), AdamW */
    FT wd;          /* FT(wd), Adam (L2) */
    FT w, w1;       /* lerp weight FT(1 - beta1) and 1 - w in FT */
    FT beta2, omb2; /* FT(beta2), FT(1 - beta2) */
    FT bc2s;        /* FT(sqrt(1 - beta2^step)) */
    FT eps;
    FT step_size; /* FT(lr / (1 - beta1^step)) */
} GC_NAME(adam_hp);

/* WD: 0 none, 1 coupled L2 (Adam), 2 decoupled (AdamW). */
GC_INLINE void GC_NAME(adam_body)(FT *p, const FT *g, FT *m, FT *v, FT *vmax, int64_t lo,
                                  int64_t hi, GC_NAME(adam_hp) h, const int WD, const int AMS,
                                  const int HI) {
#pragma omp simd
    for (int64_t i = lo; i < hi; ++i) {
        FT pi = p[i];
        FT d = g[i];
        if (WD == 2) pi = pi * h.decay;
        if (WD == 1) d = d + h.wd * pi;
        FT mi = m[i];
        mi = HI ? d - (d - mi) * h.w1 : mi + h.w * (d - mi); /* lerp(m, d, 1 - beta1) */
        m[i] = mi;
        FT vi = v[i] * h.beta2;
        vi = vi + (h.omb2 * d) * d;
        v[i] = vi;
        FT r;
        if (AMS) {
            FT vm = vmax[i];
            vm = (vm >= vi || vm != vm) ? vm : vi; /* np.maximum: NaN propagates */
            vmax[i] = vm;
            r = vm;
        } else {
            r = vi;
        }
        const FT denom = GC_SQRT(r) / h.bc2s + h.eps;
        p[i] = pi - (h.step_size * mi) / denom;
    }
}

GC_CLONES static void GC_NAME(adam_range)(FT *p, const FT *g, FT *m, FT *v, FT *vmax, int64_t lo,
                                          int64_t hi, GC_NAME(adam_hp) h, int wd, int ams,
                                          int hiw) {
#define GC_B(a, b, c) GC_NAME(adam_body)(p, g, m, v, vmax, lo, hi, h, a, b, c)
#define GC_B2(a, b) \
    if (hiw) GC_B(a, b, 1); else GC_B(a, b, 0)
    switch (wd * 2 + (ams != 0)) {
    case 0: GC_B2(0, 0); break;
    case 1: GC_B2(0, 1); break;
    case 2: GC_B2(1, 0); break;
    case 3: GC_B2(1, 1); break;
    case 4: GC_B2(2, 0); break;
    default: GC_B2(2, 1); break;
    }
#undef GC_B2
#undef GC_B
}

int GC_NAME(gc_optim_adam_step)(FT *p, const FT *g, FT *m, FT *v, FT *vmax, int64_t n, double lr,
                                double beta1, double beta2, double eps, double weight_decay,
                                int64_t step, int amsgrad, int decoupled) {
    if (n < 0) return GC_EBADSIZE;
    if (step < 1) return GC_EBADARG;
    /* once per call, in double, exactly as the reference's Python-float expressions
     * (x ** k is libm pow, as CPython's float power) */
    const double bc1 = 1.0 - pow(beta1, (double)step);
    const double bc2 = 1.0 - pow(beta2, (double)step);
    GC_NAME(adam_hp) h;
    h.decay = (FT)(1.0 - lr * weight_decay);
    h.wd = (FT)weight_decay;
    h.w = (FT)(1.0 - beta1);
    h.w1 = (FT)1 - h.w;
    h.beta2 = (FT)beta2;
    h.omb2 = (FT)(1.0 - beta2);
    h.bc2s = (FT)pow(bc2, 0.5);
    h.eps = (FT)eps;
    h.step_size = (FT)(lr / bc1);
    const int wd = weight_decay != 0 ? (decoupled ? 2 : 1) : 0;
    const int hiw = !(GC_FABS(h.w) < (FT)0.5);
    GC_PARALLEL_RANGES(n, GC_PARALLEL_MIN, lo, hi,
                       GC_NAME(adam_range)(p, g, m, v, vmax, lo, hi, h, wd, amsgrad != 0, hiw));
    return GC_OK;
}
