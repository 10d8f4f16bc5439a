"""The training-loop callback protocol (Keras' ``Callback``): what ``fit`` calls, nothing more.

It sits below both the loop (``gradcore.train``) and what observes it (``gradcore.monitor``),
so neither imports the other. ``trainer`` is the running loop's state (``gradcore.train.Trainer``:
``model``, ``optimizer``, ``epoch``, ``step``, ``stop_training``, ...).
"""

from __future__ import annotations

__all__ = ["Callback"]


class Callback:
    """Hooks into ``fit``. Set ``trainer.stop_training = True`` (and ``trainer.stop_reason``)
    to stop after the current step/epoch.

    ``on_batch_end`` runs after the step's backward pass and gradient clipping and BEFORE the
    optimizer update; ``logs`` has ``loss`` and ``grad_norm`` (the pre-clip global norm).
    """

    def on_train_begin(self, trainer) -> None:
        pass

    def on_batch_end(self, trainer, step: int, logs: dict[str, float]) -> None:
        pass

    def on_epoch_end(self, trainer, epoch: int, logs: dict[str, float]) -> None:
        pass

    def on_train_end(self, trainer) -> None:
        pass
