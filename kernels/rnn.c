/* rnn family (a plain tanh RNN over a batch-first sequence): forward and backward through
 * time. One body (rnn_impl.h) generated for float and double.
 *
 * The body is written against gc_template.h's type macros (FT, SFX, GC_NAME, GC_TANH,
 * GC_GEMM). Until that header is on this branch they are defined here by hand; with it, the
 * two instances below become:
 *     #define GC_TEMPLATE "rnn_impl.h"      (with packgemm_impl.h included by rnn_impl.h)
 *     #include "gc_template.h"
 */
#include <math.h>
#include <string.h>

#include "gradcore/rnn.h"
#include "gc_parallel.h"
#include "gc_clones.h"
#include "gc_fastmath.h"

#define GC_CAT_(a, b) a##_##b
#define GC_CAT(a, b) GC_CAT_(a, b)
#define GC_NAME(base) GC_CAT(base, SFX)

#define FT float
#define SFX f32
#define GC_TANH gc_tanh_f32
#define GC_GEMM gc_gemm_f32
#include "packgemm_impl.h"
#include "rnn_impl.h"
#undef FT
#undef SFX
#undef GC_TANH
#undef GC_GEMM

#define FT double
#define SFX f64
#define GC_TANH gc_tanh_f64
#define GC_GEMM gc_gemm_f64
#include "packgemm_impl.h"
#include "rnn_impl.h"
#undef FT
#undef SFX
#undef GC_TANH
#undef GC_GEMM
