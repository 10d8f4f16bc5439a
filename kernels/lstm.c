/* LSTM family (batch-first sequence, gate order i, f, g, o): forward and backward through time.
 * One body (lstm_impl.h) generated for float and double. */
#include <math.h>
#include <string.h>

#include "gradcore/lstm.h"
#include "gc_parallel.h"
#include "gc_clones.h"
#include "gc_fastmath.h"

#define GC_TEMPLATE "lstm_impl.h"
#include "gc_template.h"
