/* Norms / scale / clip over a flat buffer cut into segments (one segment per tensor).
 *
 * offsets has nseg+1 entries, offsets[0] == 0, non-decreasing; segment s is
 * [offsets[s], offsets[s+1]). Sums of squares accumulate in double for float data too.
 */
#ifndef GRADCORE_NORMS_H
#define GRADCORE_NORMS_H

#include "gradcore/common.h"

int gc_norms_segment_sumsq_f32(const float *x, const int64_t *offsets, int64_t nseg,
                               double *sumsq, int64_t *nonfinite);
int gc_norms_segment_sumsq_f64(const double *x, const int64_t *offsets, int64_t nseg,
                               double *sumsq, int64_t *nonfinite);
int gc_norms_segment_absmax_f32(const float *x, const int64_t *offsets, int64_t nseg,
                                double *absmax, int64_t *nonfinite);
int gc_norms_segment_absmax_f64(const double *x, const int64_t *offsets, int64_t nseg,
                                double *absmax, int64_t *nonfinite);
void gc_norms_scale_f32(float *x, int64_t n, float alpha);
void gc_norms_scale_f64(double *x, int64_t n, double alpha);
void gc_norms_clip_value_f32(float *x, int64_t n, float clip);
void gc_norms_clip_value_f64(double *x, int64_t n, double clip);

#endif
