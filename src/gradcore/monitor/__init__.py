"""The gradient monitor: record every layer's gradients cheaply, diagnose vanishing and
exploding gradients with causes and remedies, plot them.

::

    mon = gc.monitor.GradientMonitor(model, every=1)      # a fit callback
    hist = model.fit(X, y, optimizer=opt, epochs=5, callbacks=[mon])
    d = mon.diagnose()                 # gc.monitor.Diagnosis: status, findings, per-layer table
    print(d)                           # the health report
    mon.save_report("run1/")           # PNG figures + report.md + history.json
    d = gc.monitor.check(model, X[:256], y[:256], loss="cross_entropy")   # one batch

Floor 4 of the design: it reads ``nn``, ``optim`` and ``params``; nothing below imports it.
Figures (``gc.monitor.plots``) need matplotlib, imported only when a plot is drawn.
Inside, imports point one way: ``history`` <- ``findings`` <- ``diagnosis``; ``plots`` and
``report`` (views of a monitor, which they know by its ``history``) <- ``monitor``.
"""

from . import plots
from .diagnosis import diagnose
from .findings import FINDING_KINDS, Diagnosis, Finding, LayerRow, Thresholds
from .history import LAYER_FIELDS, STEP_FIELDS, TENSOR_FIELDS, GradientHistory
from .monitor import GradientMonitor, check

__all__ = [
    "FINDING_KINDS",
    "LAYER_FIELDS",
    "STEP_FIELDS",
    "TENSOR_FIELDS",
    "Diagnosis",
    "Finding",
    "GradientHistory",
    "GradientMonitor",
    "LayerRow",
    "Thresholds",
    "check",
    "diagnose",
    "plots",
]
