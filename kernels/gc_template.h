/* Private helper of every kernel family: how one body is compiled for float and for double.
 *
 * A family's body lives in <family>_impl.h, written once against
 *   FT          the element type (float / double),
 *   SFX         the name suffix token (f32 / f64); GC_NAME(base) is base_f32 / base_f64,
 *   GC_F32      1 in the float instance, 0 in the double one (for type-specific tuning),
 *   the math of that type: GC_SQRT, GC_FABS, GC_EXPM1 (libm); GC_EXPNEG (exp of x <= 0),
 *   GC_SIGMOID, GC_TANH (gc_fastmath.h); GC_ERFC (gc_erfc_f32 is defined by dense.c);
 *   GC_GEMM (gc_gemm_f32 / gc_gemm_f64, common.h).
 * The family's .c file includes what the body needs, then instantiates it:
 *
 *     #define GC_TEMPLATE "dense_impl.h"
 *     #include "gc_template.h"
 *
 * which includes the body once per type and undefines the type macros (and GC_TEMPLATE)
 * after each. The public prototypes (include/gradcore/<family>.h) are written out for both
 * types: they are the contract, read by people and by the Cython binding.
 * Helpers of a body that do not depend on the type sit in an #ifndef block of their own in
 * the body (defined by the first instance only). */
#ifndef GRADCORE_TEMPLATE_H
#define GRADCORE_TEMPLATE_H

#define GC_CAT_(a, b) a##_##b
#define GC_CAT(a, b) GC_CAT_(a, b)
#define GC_NAME(base) GC_CAT(base, SFX)

#endif

#if defined(GC_TEMPLATE_END)
/* (included by itself below, after each instance) */
#undef FT
#undef SFX
#undef GC_F32
#undef GC_SQRT
#undef GC_FABS
#undef GC_EXPM1
#undef GC_EXPNEG
#undef GC_SIGMOID
#undef GC_TANH
#undef GC_ERFC
#undef GC_GEMM
#undef GC_TEMPLATE_END

#elif defined(GC_TEMPLATE)
#define FT float
#define SFX f32
#define GC_F32 1
#define GC_SQRT sqrtf
#define GC_FABS fabsf
#define GC_EXPM1 expm1f
#define GC_EXPNEG gc_expneg_f32
#define GC_SIGMOID gc_sigmoid_f32
#define GC_TANH gc_tanh_f32
#define GC_ERFC gc_erfc_f32
#define GC_GEMM gc_gemm_f32
#include GC_TEMPLATE
#define GC_TEMPLATE_END
#include "gc_template.h"

#define FT double
#define SFX f64
#define GC_F32 0
#define GC_SQRT sqrt
#define GC_FABS fabs
#define GC_EXPM1 expm1
#define GC_EXPNEG gc_expneg_f64
#define GC_SIGMOID gc_sigmoid_f64
#define GC_TANH gc_tanh_f64
#define GC_ERFC erfc
#define GC_GEMM gc_gemm_f64
#include GC_TEMPLATE
#define GC_TEMPLATE_END
#include "gc_template.h"

#undef GC_TEMPLATE
#endif
