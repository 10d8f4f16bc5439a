"""Experiment 11, the summary: every other experiment's headline next to what the material
reports, in one table.

It trains nothing: it reads the ``results.json`` the other experiments wrote into the same
``--out`` folder (``gradcore report`` runs them first, then this, and puts the same table at
the top of ``report.md``) and writes ``summary.md`` plus its own ``results.json``. An
experiment not run yet is named with the command that runs it; results of mixed settings
(quick and full, different seeds or datasets) are listed, and the notes say which is which.
"""

from __future__ import annotations

import json

from ._framework import EXPERIMENTS, Context, register
from ._report import SUMMARY, SUMMARY_COLUMNS, _table, shared_dataset, summary_rows

NAME = SUMMARY

DESCRIPTION = "one table: every experiment's headline next to what the material reports"
EXPECTED = "every classic result reproduces (or the report says under which settings it does)"

_KEYS = ("experiment", "expected", "headline", "quick", "seed")


def _read(path) -> tuple[dict | None, str | None]:
    """``(results, None)`` or ``(None, why it cannot be used)``."""
    try:
        r = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"{path} is not readable JSON ({exc})"
    if not isinstance(r, dict) or any(k not in r for k in _KEYS):
        return None, f"{path} is not an experiment's results.json (needs {', '.join(_KEYS)})"
    h = r["headline"]
    if not isinstance(h, dict) or "measured" not in h or "reproduced" not in h:
        return None, f"{path}: headline must hold 'measured' and 'reproduced'"
    return r, None


def _mode(r: dict) -> str:
    return f"{'quick' if r['quick'] else 'full'}, seed {r['seed']}"


def _settings(found: list[dict]) -> tuple[str, bool]:
    """``(one line naming the settings, whether they are mixed)``."""
    modes = sorted({_mode(r) for r in found})
    data = sorted({d for r in found if (d := shared_dataset(r)) is not None})
    own = [r["experiment"] for r in found if shared_dataset(r) is None]
    line = "; ".join(modes) or "-"
    if data:
        line += f"; dataset {', '.join(data)}"
    if own:
        line += f" ({', '.join(own)}: their own generated data)"
    return line, len(modes) > 1 or len(data) > 1


@register(11, NAME, DESCRIPTION, EXPECTED)
def run(ctx: Context) -> dict:
    out = ctx.folder.parent
    names = [n for n in EXPERIMENTS if n != NAME]
    ctx.open_bar(len(names))
    found, missing = [], []
    for name in names:
        r, why = _read(out / name / "results.json")
        if r is not None:
            found.append(r)
        else:
            missing.append(name)
            if (out / name / "results.json").exists():
                ctx.notes.append(f"Ignored: {why}.")
        ctx.bar.update(1)
    rows = summary_rows(found)
    ctx.table("Every experiment's headline", SUMMARY_COLUMNS, rows)
    settings, mixed = _settings(found)
    if mixed:
        ctx.notes.append(
            "The results were not all run with the same settings: "
            + "; ".join(
                f"{r['experiment']}: {_mode(r)}"
                + (f", {shared_dataset(r)}" if shared_dataset(r) else "")
                for r in found
            )
            + "."
        )
    if missing:
        ctx.notes.append(
            "Not run yet (no results.json in this folder): "
            + ", ".join(missing)
            + f". Run them with `gradcore experiment run NAME --out {out}` (or all at once with "
            f"`gradcore report --out {out}`)."
        )
    no = [r["experiment"] for r in found if not r["headline"]["reproduced"]]
    headline = f"{len(found) - len(no)} of {len(found)} reproduced as stated" + (
        f" (not: {', '.join(no)}; each says under which settings it does)" if no else ""
    )
    if missing:
        headline += f"; {len(missing)} not run ({', '.join(missing)})"
    text = ["# gradcore experiments: summary", ""]
    text += [f"Settings: {settings}.", ""]
    text += _table(SUMMARY_COLUMNS, rows) + [""] + [f"> {n}\n" for n in ctx.notes]
    (ctx.folder / "summary.md").write_text("\n".join(text))
    return ctx.finish(
        config={"folder": str(out), "experiments": names},
        measured={
            "experiments": len(found),
            "reproduced": len(found) - len(no),
            "not_reproduced": no,
            "missing": missing,
            "settings": settings,
        },
        headline=headline,
        reproduced=not no and not missing,
    )
