/* LSTM family (batch-first sequence, gate order i, f, g, o): forward and backward through time.
 * One body (lstm_impl.h) generated for float and double. */
#include <math.h>
#include <string.h>

#include "gradcore/lstm.h"

#define FT float
#define SFX f32
#define FT_EXP expf
#define FT_TANH tanhf
#define FT_GEMM gc_gemm_f32
#include "lstm_impl.h"
#undef FT
#undef SFX
#undef FT_EXP
#undef FT_TANH
#undef FT_GEMM

#define FT double
#define SFX f64
#define FT_EXP exp
#define FT_TANH tanh
#define FT_GEMM gc_gemm_f64
#include "lstm_impl.h"
#undef FT
#undef SFX
#undef FT_EXP
#undef FT_TANH
#undef FT_GEMM
