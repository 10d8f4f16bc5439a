/* Statistics family: what the gradient monitor needs from one pass over an array.
 *
 * gc_stats_act_stats: x viewed as [M, C] (row-major, C = units on the last axis) ->
 *   colnz[C] (int64): non-zero count per column (NaN counts as non-zero);
 *   out[6] (double):  [sum, sumsq, min, max, n_saturated, n_nonfinite], sums in double;
 *   min/max NaN if any element is NaN; M*C == 0 gives sums 0, min +inf, max -inf.
 *   sat: 0 none, 1 sigmoid output (y(1-y) < threshold), 2 tanh output (1-y^2 < threshold),
 *   evaluated in double (a NaN is never saturated). GC_EBADSIZE if M or C < 0, GC_EBADARG
 *   for another sat.
 *
 * gc_stats_segment_delta_sumsq: over segments [offsets[s], offsets[s+1]) of the flat buffers
 *   new[P], prev[P]: delta_sumsq[s] = sum((double)new - (double)prev)^2,
 *   new_sumsq[s] = sum((double)new)^2, and prev := new, in one pass. offsets as in norms.h
 *   (nseg+1 entries, offsets[0] == 0, non-decreasing; GC_EBADSIZE otherwise). new and prev must
 *   not overlap.
 */
#ifndef GRADCORE_STATS_H
#define GRADCORE_STATS_H

#include "gradcore/common.h"

#define GC_STATS_NOUT 6

int gc_stats_act_stats_f32(const float *x, int64_t M, int64_t C, int sat, double threshold,
                           int64_t *colnz, double *out);
int gc_stats_act_stats_f64(const double *x, int64_t M, int64_t C, int sat, double threshold,
                           int64_t *colnz, double *out);
int gc_stats_segment_delta_sumsq_f32(const float *new_, float *prev, const int64_t *offsets,
                                     int64_t nseg, double *delta_sumsq, double *new_sumsq);
int gc_stats_segment_delta_sumsq_f64(const double *new_, double *prev, const int64_t *offsets,
                                     int64_t nseg, double *delta_sumsq, double *new_sumsq);

#endif
