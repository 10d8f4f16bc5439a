/* LSTM family (batch-first sequence, gate order i, f, g, o): forward and backward through time.
 * One body (lstm_impl.h) generated for float and double. */
#include <math.h>
#include <string.h>

#include "gradcore/lstm.h"
#include "gc_parallel.h"
#include "gc_clones.h"
#include "gc_fastmath.h"

#define FT float
#define SFX f32
#define FT_SIGMOID gc_sigmoid_f32
#define FT_TANH gc_tanh_f32
#define FT_GEMM gc_gemm_f32
#include "packgemm_impl.h"
#include "lstm_impl.h"
#undef FT
#undef SFX
#undef FT_SIGMOID
#undef FT_TANH
#undef FT_GEMM

#define FT double
#define SFX f64
#define FT_SIGMOID gc_sigmoid_f64
#define FT_TANH gc_tanh_f64
#define FT_GEMM gc_gemm_f64
#include "packgemm_impl.h"
#include "lstm_impl.h"
#undef FT
#undef SFX
#undef FT_SIGMOID
#undef FT_TANH
#undef FT_GEMM
