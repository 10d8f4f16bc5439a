/* Dense family: GEMM + fused bias/activation epilogue, fused backward epilogue with the bias
 * gradient, and the standalone elementwise activations. One body (dense_impl.h) generated for
 * float and double. float math stays in float like the reference (NumPy float32 ufuncs),
 * except erfc: float32 gelu evaluates erfc in double and rounds, as scipy.special.erfc does. */
#include <math.h>

#include "gc_clones.h"
#include "gc_fastmath.h"
#include "gc_parallel.h"
#include "gradcore/dense.h"

/* exp and tanh: the vectorisable Cephes-style forms of gc_fastmath.h (shared with the LSTM;
 * <= 2.5e-7 relative from libm in float, <= 4.8e-16 in double, NaN/inf kept). Every GC_EXPNEG
 * use in dense_impl.h has a non-positive argument (exp(-|x|), elu' on x <= 0), which is the
 * domain of gc_expneg (which also returns subnormal results, like libm). Measured, 128x256
 * float32 Dense forward, 1 thread: sigmoid 0.32 -> 0.16 ms, tanh 0.56 -> 0.19 ms (GEMM 0.11). */

static inline float gc_erfc_f32(float x) { return (float)erfc((double)x); }

#define GC_TEMPLATE "dense_impl.h"
#include "gc_template.h"
