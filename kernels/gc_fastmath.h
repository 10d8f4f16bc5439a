/* Vectorisable exp(x) for x <= 0, sigmoid and tanh (float and double).
 * libm's expf/tanhf are scalar calls (~10-20 ns each here; 5 per LSTM element); these are
 * plain arithmetic that `omp simd` loops vectorise. Cephes' algorithms: range reduction
 * x = n ln2 + r (ln2 split in two), then a degree-6 polynomial (float) or the (2,3) Padé form
 * (double) for e^r, scaled by 2^n built in the exponent bits. tanh uses Cephes' rational form
 * for |x| < 0.625 (no cancellation near 0) and (1 - e)/(1 + e), e = exp(-2|x|), beyond.
 * Max relative error vs glibc measured over 2e7 points in [-60, 60]: float exp 1.2e-7,
 * sigmoid 2.4e-7, tanh 2.5e-7; double exp 3.1e-16, sigmoid 4.7e-16, tanh 4.8e-16.
 * Loops calling these vectorise only with -fno-trapping-math (set for lstm.c in CMake):
 * otherwise GCC will not if-convert the selects (they could raise FP flags). */
#ifndef GRADCORE_FASTMATH_H
#define GRADCORE_FASTMATH_H

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define GC_INLINE static inline __attribute__((always_inline))
#else
#define GC_INLINE static inline
#endif

GC_INLINE float gc_expneg_f32(float x) {
    /* NaN -> -104 here (the comparison is false), so the int conversion below is defined;
     * the NaN is put back at the end. Result >= 2^-125.5: still normal. */
    /* down to -104 (below it exp underflows to 0 even as a subnormal): the scale is built as
     * 2^(n+64) and the product multiplied by 2^-64, exact for normal results and one gradual-
     * underflow rounding for subnormal ones (like libm's expf there) */
    const float xc = x >= -104.0f ? x : -104.0f;
    const int32_t n = (int32_t)(xc * 1.44269504088896341f - 0.5f); /* round(x/ln2), x <= 0 */
    const float fn = (float)n;
    const float r = (xc - fn * 0.693359375f) - fn * -2.12194440e-4f;
    float p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    p = p * r * r + r + 1.0f;
    const int32_t bits = (n + 127 + 64) << 23;
    float sc;
    memcpy(&sc, &bits, sizeof sc);
    const float res = (p * sc) * 5.42101086242752217e-20f; /* 2^-64 */
    return x >= -104.0f ? res : (x != x ? x : 0.0f);
}

GC_INLINE double gc_expneg_f64(double x) {
    const double xc = x >= -746.0 ? x : -746.0; /* NaN and subnormals: as in gc_expneg_f32 */
    const int32_t n = (int32_t)(xc * 1.4426950408889634073599 - 0.5);
    const double fn = (double)n;
    const double r = (xc - fn * 6.93145751953125E-1) - fn * 1.42860682030941723212E-6;
    const double rr = r * r;
    const double px = r * ((1.26177193074810590878E-4 * rr + 3.02994407707441961300E-2) * rr +
                           9.99999999999999999910E-1);
    const double qx = ((3.00198505138664455042E-6 * rr + 2.52448340349684104192E-3) * rr +
                       2.27265548208155028766E-1) * rr + 2.00000000000000000009E0;
    const double e = 1.0 + 2.0 * (px / (qx - px));
    const int64_t bits = (int64_t)(n + 1023 + 64) << 52;
    double sc;
    memcpy(&sc, &bits, sizeof sc);
    const double res = (e * sc) * 5.42101086242752217e-20; /* 2^-64 */
    return x >= -746.0 ? res : (x != x ? x : 0.0);
}

GC_INLINE float gc_sigmoid_f32(float a) {
    const float e = gc_expneg_f32(a < 0 ? a : -a);
    const float r = 1.0f / (1.0f + e);
    return a >= 0 ? r : e * r;
}
GC_INLINE double gc_sigmoid_f64(double a) {
    const double e = gc_expneg_f64(a < 0 ? a : -a);
    const double r = 1.0 / (1.0 + e);
    return a >= 0 ? r : e * r;
}

GC_INLINE float gc_tanh_f32(float x) {
    const float ax = x < 0 ? -x : x;
    const float z = x * x;
    const float small =
        ((((-5.70498872745E-3f * z + 2.06390887954E-2f) * z - 5.37397155531E-2f) * z +
          1.33314422036E-1f) * z - 3.33332819422E-1f) * z * x + x;
    const float e = gc_expneg_f32(-2.0f * ax);
    const float big = (1.0f - e) / (1.0f + e);
    return ax < 0.625f ? small : (x < 0 ? -big : big);
}
GC_INLINE double gc_tanh_f64(double x) {
    const double ax = x < 0 ? -x : x;
    const double z = x * x;
    const double p = (-9.64399179425052238628E-1 * z - 9.92877231001918586564E1) * z -
                     1.61468768441708447952E3;
    const double q = ((z + 1.12811678491632931402E2) * z + 2.23548839060100448583E3) * z +
                     4.84406305325125486048E3;
    const double small = x + x * z * (p / q);
    const double e = gc_expneg_f64(-2.0 * ax);
    const double big = (1.0 - e) / (1.0 + e);
    return ax < 0.625 ? small : (x < 0 ? -big : big);
}

#endif
