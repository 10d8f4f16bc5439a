/* rnn family (a plain tanh RNN over a batch-first sequence): forward and backward through
 * time. One body (rnn_impl.h) generated for float and double. */
#include <math.h>
#include <string.h>

#include "gradcore/rnn.h"
#include "gc_parallel.h"
#include "gc_clones.h"
#include "gc_fastmath.h"

#define GC_TEMPLATE "rnn_impl.h"
#include "gc_template.h"
