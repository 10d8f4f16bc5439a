"""The outcome of a gradient check: one :class:`TensorCheck` per tensor, the
:class:`GradcheckResult` that holds them (with a readable ``report()``) and the
:class:`GradcheckError` that ``raise_on_failure=True`` raises."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["GradcheckError", "GradcheckResult", "TensorCheck"]


class GradcheckError(AssertionError):
    """Raised by ``gradcheck(..., raise_on_failure=True)``; ``.result`` holds the full result."""

    def __init__(self, result: GradcheckResult) -> None:
        super().__init__(result.report())
        self.result = result


@dataclass(frozen=True)
class TensorCheck:
    """The comparison for one tensor.

    ``max_rel_error`` is the largest relative error over the checked, non-kink elements;
    ``worst_index`` (a tuple into the tensor's shape) is where it occurs, with the ``analytic``
    and ``numeric`` gradient values there (``None``/NaN when no element was compared).
    ``checked`` counts the elements evaluated (all, or ``max_elements`` of them), ``kinks``
    those of them excluded as kinks. ``step`` is the finite-difference step ``h`` and ``atol``
    the absolute tolerance (``rtol * floor``) used for this tensor.
    """

    name: str
    shape: tuple[int, ...]
    ok: bool
    max_rel_error: float
    worst_index: tuple[int, ...] | None
    analytic: float
    numeric: float
    checked: int
    kinks: int
    step: float
    atol: float
    note: str = ""


@dataclass(frozen=True)
class GradcheckResult:
    """Outcome of :func:`gradcheck`; truthy iff every checked tensor passed.

    ``checks`` maps tensor names (``"input"``, ``"h0"``, ``"params.W"``, ``"pred"``,
    ``"input0"``...) to :class:`TensorCheck`; ``skipped`` maps names of tensors not checked to
    the reason. ``objective`` is ``L`` at the unperturbed point.
    """

    ok: bool
    kind: str
    checks: dict[str, TensorCheck]
    skipped: dict[str, str] = field(default_factory=dict)
    objective: float = 0.0
    eps: float = 1e-6
    rtol: float = 1e-6

    @property
    def failures(self) -> list[TensorCheck]:
        """The checks that failed, in check order."""
        return [c for c in self.checks.values() if not c.ok]

    def __getitem__(self, name: str) -> TensorCheck:
        return self.checks[name]

    def __bool__(self) -> bool:
        return self.ok

    def report(self) -> str:
        """A readable table: one line per tensor, failures marked, notes and skips below."""
        verdict = "passed" if self.ok else "FAILED"
        what = "L = loss" if self.kind == "loss" else "L = sum(P * y)"
        lines = [
            f"gradcheck {verdict}: {self.kind}, {what} = {self.objective:.6g}, "
            f"eps={self.eps:g}, rtol={self.rtol:g}"
        ]
        header = ("tensor", "shape", "checked", "kinks", "max rel err", "worst index",
                  "analytic", "numeric", "")  # fmt: skip
        rows = [header]
        for c in self.checks.values():
            has = c.worst_index is not None
            rows.append(
                (
                    c.name,
                    str(c.shape),
                    str(c.checked),
                    str(c.kinks),
                    f"{c.max_rel_error:.3e}",
                    str(c.worst_index) if has else "-",
                    f"{c.analytic:.6e}" if has else "-",
                    f"{c.numeric:.6e}" if has else "-",
                    "ok" if c.ok else "FAIL",
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        for r in rows:
            lines.append("  ".join(s.ljust(w) for s, w in zip(r, widths, strict=True)).rstrip())
        for c in self.checks.values():
            if c.note:
                lines.append(f"note: {c.name}: {c.note}")
        for name, why in self.skipped.items():
            lines.append(f"skipped: {name}: {why}")
        if self.failures and all(c.max_rel_error < 1e-3 for c in self.failures):
            lines.append(
                "hint: a small error may be finite-difference error rather than a bug: rerun "
                "with eps=1e-8 and eps=1e-4; a wrong backward fails at every step"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()
