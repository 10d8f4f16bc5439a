/* gradcore kernels: shared definitions.
 *
 * Every kernel family has one body written against the macros below and is compiled twice,
 * for float (suffix _f32) and double (suffix _f64). Kernels take contiguous pointers, explicit
 * sizes and out-pointers; they never allocate, never call Python and never link BLAS.
 */
#ifndef GRADCORE_COMMON_H
#define GRADCORE_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Status codes returned by kernels that can fail. */
#define GC_OK 0
#define GC_EBADSIZE 1   /* inconsistent sizes or offsets */

/* Element count above which a streaming kernel uses OpenMP threads. Below it the thread
 * start-up (a few microseconds) costs more than it saves. */
#define GC_PARALLEL_MIN 65536

int gc_max_threads(void);
void gc_set_num_threads(int n);
int gc_have_openmp(void);

#endif
