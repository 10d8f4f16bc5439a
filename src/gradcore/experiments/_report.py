"""Run the experiments by name, and all of them into one ``report.md``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .._version import __version__
from ._framework import DATASETS, EXPERIMENTS, get, load_dataset

__all__ = ["SUMMARY", "render", "report", "run", "summary_rows"]

DEFAULT_OUT = "gradcore-experiments"


def run(
    name: str,
    *,
    quick: bool = False,
    seed: int = 0,
    data: str | None = None,
    out: str | os.PathLike = DEFAULT_OUT,
    progress=True,
) -> dict:
    """Run experiment ``name`` (one of :data:`EXPERIMENTS`; ``ValueError`` naming them
    otherwise) into ``out/name/``; returns its results (also in ``out/name/results.json``).
    ``data``: ``"mnist"``, ``"mnist1d"``, ``"digits"`` or ``None`` (the first available);
    ``progress``: as ``fit``'s (``True``: a tqdm bar on stderr; ``False``: none)."""
    return get(name).run(quick=quick, seed=seed, data=data, out=Path(out), progress=progress)


def _cell(v) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def _table(columns, rows) -> list[str]:
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |"]
    lines.append("|" + "---|" * len(columns))
    lines += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return lines


#: The experiment that only collects the others' headlines (number 11, ``summary.py``).
SUMMARY = "summary"
SUMMARY_COLUMNS = ["experiment", "expected (the material)", "measured", "reproduced"]


def summary_rows(results: list[dict], *, links: bool = False) -> list[list[str]]:
    """One row per result: name (a link to its section in ``report.md`` if ``links``), what
    the material expects, the measured headline, whether it reproduced (yes / **no**)."""
    return [
        [
            f"[{r['experiment']}](#{r['experiment']})" if links else r["experiment"],
            r["expected"],
            r["headline"]["measured"],
            "yes" if r["headline"]["reproduced"] else "**no**",
        ]
        for r in results
    ]


def render(results: list[dict], *, quick: bool) -> str:
    """``report.md``'s text for the experiments' results (figures linked relative to it)."""
    summary = [r for r in results if r["experiment"] == SUMMARY]
    results = [r for r in results if r["experiment"] != SUMMARY]
    ds = next((r["dataset"] for r in results if r.get("dataset")), None)
    lines = ["# gradcore experiments", ""]
    mode = "quick (`--quick`: smaller data, width and epochs)" if quick else "full settings"
    lines.append(f"Mode: {mode}; seed {results[0]['seed'] if results else '-'}.")
    if ds is not None:
        lines.append(
            f"Dataset: **{ds['name']}** ({ds['source']}; {ds['n_train']} train / "
            f"{ds['n_test']} test, {ds['n_features']} features)."
        )
        if "note" in ds:
            lines.append(f"Note: {ds['note']}.")
    settings = (summary[0].get("measured") or {}).get("settings") if summary else None
    if settings:
        lines.append(f"Settings: {settings}.")
    lines += ["", "## Summary", ""]
    lines += _table(SUMMARY_COLUMNS, summary_rows(results, links=True))
    for note in summary[0]["notes"] if summary else ():
        lines += ["", f"> {note}"]
    for r in results:
        lines += ["", f"## {r['experiment']}", "", r["description"] + ".", ""]
        lines.append(f"Expected: {r['expected']}.  ")
        lines.append(f"Measured: {r['headline']['measured']}.  ")
        lines.append(f"Reproduced: {'yes' if r['headline']['reproduced'] else 'no'}.")
        lines += ["", "Settings: " + ", ".join(f"{k}={v}" for k, v in r["config"].items()), ""]
        for note in r["notes"]:
            lines += [f"> {note}", ""]
        for t in r["tables"]:
            lines += [f"**{t['title']}**", "", *_table(t["columns"], t["rows"]), ""]
        for f in r["figures"]:
            lines += [
                f"![{f['caption']}]({r['experiment']}/{f['file']})",
                "",
                f"*{f['caption']}*",
                "",
            ]
        lines.append(
            f"Numbers: [`{r['experiment']}/results.json`]({r['experiment']}/results.json)"
            f", {r['wall_seconds']} s."
        )
    return "\n".join(lines) + "\n"


def shared_dataset(r: dict) -> str | None:
    """The shared dataset (one of :data:`DATASETS`, what ``--data`` picks) a result ran on;
    None for an experiment that generates its own data (adding problem, oscillators), which
    ``--data`` does not change."""
    ds = (r.get("dataset") or {}).get("name")
    return ds if ds in DATASETS else None


def _kept(out: Path, name: str, *, quick: bool, seed: int, data: str) -> dict | None:
    """``out/name/results.json`` if it was written with these settings and its figures exist."""
    if name == SUMMARY:  # always rebuilt from what is there now
        return None
    try:
        r = json.loads((out / name / "results.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    same = (
        isinstance(r, dict)
        and r.get("experiment") == name
        and r.get("quick") is quick
        and r.get("seed") == seed
        and shared_dataset(r) in (data, None)
        and r.get("gradcore") == __version__
    )
    if not same or "headline" not in r:
        return None
    if not all((out / name / f["file"]).is_file() for f in r.get("figures", [])):
        return None
    return r


def report(
    *,
    quick: bool = False,
    seed: int = 0,
    data: str | None = None,
    out: str | os.PathLike = DEFAULT_OUT,
    progress=True,
    names=None,
    resume: bool = False,
) -> Path:
    """Run every experiment (or ``names``) into ``out/`` and write ``out/report.md``: a summary
    table (experiment, expected, measured, reproduced) then every table and figure. Returns
    the path of ``report.md``. The dataset is resolved once, so every experiment uses the same.
    ``resume``: keep an experiment's ``results.json`` already in ``out/`` when it was written
    with the same settings (quick, seed, dataset, gradcore version) and its figures are there,
    and run only the others (a long full report survives being stopped)."""
    if data is None:
        data = load_dataset(None, quick=quick, seed=seed).name
    names = list(EXPERIMENTS) if names is None else [get(n).name for n in names]
    # The summary (experiment 11) reads what the others just wrote, so it runs last.
    names = [n for n in names if n != SUMMARY] + [n for n in names if n == SUMMARY]
    results = []
    for n in names:
        kept = _kept(Path(out), n, quick=quick, seed=seed, data=data) if resume else None
        if kept is None:
            kept = run(n, quick=quick, seed=seed, data=data, out=out, progress=progress)
        results.append(kept)
    path = Path(out) / "report.md"
    path.write_text(render(results, quick=quick))
    return path
