/* Optimizer family: one fused streaming pass over the flat parameter, gradient and state
 * buffers (n elements each; all distinct, none overlapping), semantics of torch.optim's
 * single-tensor code and operation order of the reference backend (optim.py):
 *   - hyper-parameters arrive as double (Python floats); scalar expressions (1 - beta,
 *     lr / bias_correction, ...) are computed in double as Python does, then rounded to T
 *     once per call before they meet an element;
 *   - element math in T (float32 stays float32), one rounding per operation, no FMA
 *     contraction (built with -ffp-contract=off), so results are the reference's bit for bit;
 *   - g is read only; state buffers not used by the options may be NULL.
 * step is the 1-based count after incrementing. Return GC_OK, GC_EBADSIZE (n < 0) or
 * GC_EBADARG (step < 1; nesterov without momentum > 0 and dampening == 0). */
#ifndef GRADCORE_OPTIM_H
#define GRADCORE_OPTIM_H

#include "gradcore/common.h"

int gc_optim_sgd_step_f32(float *p, const float *g, float *buf, int64_t n, double lr,
                          double momentum, double dampening, int nesterov, double weight_decay,
                          int first);
int gc_optim_sgd_step_f64(double *p, const double *g, double *buf, int64_t n, double lr,
                          double momentum, double dampening, int nesterov, double weight_decay,
                          int first);
int gc_optim_rmsprop_step_f32(float *p, const float *g, float *square_avg, float *grad_avg,
                              float *mom_buf, int64_t n, double lr, double alpha, double eps,
                              double weight_decay, double momentum, int centered);
int gc_optim_rmsprop_step_f64(double *p, const double *g, double *square_avg,
                              double *grad_avg, double *mom_buf, int64_t n, double lr,
                              double alpha, double eps, double weight_decay, double momentum,
                              int centered);
int gc_optim_adagrad_step_f32(float *p, const float *g, float *state_sum, int64_t n, double lr,
                              double lr_decay, double weight_decay, double eps, int64_t step);
int gc_optim_adagrad_step_f64(double *p, const double *g, double *state_sum, int64_t n,
                              double lr, double lr_decay, double weight_decay, double eps,
                              int64_t step);
int gc_optim_adam_step_f32(float *p, const float *g, float *m, float *v, float *vmax, int64_t n,
                           double lr, double beta1, double beta2, double eps,
                           double weight_decay, int64_t step, int amsgrad, int decoupled);
int gc_optim_adam_step_f64(double *p, const double *g, double *m, double *v, double *vmax,
                           int64_t n, double lr, double beta1, double beta2, double eps,
                           double weight_decay, int64_t step, int amsgrad, int decoupled);

#endif
