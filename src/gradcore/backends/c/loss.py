"""Losses with gradients in one pass, compiled (``kernels/loss.c``); contract: ``docs/kernels.md``.

``softmax_xent(logits, labels, dlogits)``, ``mse(pred, target, dpred)``,
``bce_with_logits(logits, target, dlogits)``: return the mean loss as a float, overwrite the
gradient unless it is None. All math and sums in double (as the reference). Labels may be any
integer dtype (non-int64 labels are converted once); out-of-range labels and empty inputs raise
``ValueError`` with the reference's messages. ``target`` must have the data's dtype.
"""

from gradcore._kernels import bce_with_logits, mse, softmax_xent

__all__ = ["bce_with_logits", "mse", "softmax_xent"]
