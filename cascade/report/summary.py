"""The per-stage summary rows shared by the end-of-run table, report.md and report.html."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cascade.callbacks import read_metrics
from cascade.report.flags import stage_flags

COLUMNS = ("stage", "status", "steps", "metric", "start", "end", "time (s)", "eval", "notes")


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def eval_cell(entry: dict[str, Any]) -> str:
    """``suite: pass@1 0.200 -> 0.350 (+0.150)`` from a stage's ``eval`` entry; ``-`` without one."""
    ev = entry.get("eval")
    if not isinstance(ev, dict):
        return "-"
    before, after, delta = (ev.get(k) or {} for k in ("before", "after", "delta"))
    parts = []
    for metric in sorted(set(before) | set(after)):
        d = delta.get(metric)
        change = f" ({d:+.3f})" if isinstance(d, (int, float)) else ""
        parts.append(f"{metric} {fmt(before.get(metric))} -> {fmt(after.get(metric))}{change}")
    return f"{ev.get('suite', '?')}: " + "; ".join(parts) if parts else "-"


def stage_metrics(run_dir: Path, name: str, entry: dict[str, Any]) -> list[dict[str, Any]]:
    path = Path(entry.get("metrics_file") or Path(run_dir) / name / "metrics.jsonl")
    return read_metrics(path if path.is_file() else Path(run_dir) / name / "metrics.jsonl")


def summary_rows(run_dir: Path, manifest: dict[str, Any], only: list[str] | None = None) -> list[dict[str, str]]:
    """One row per stage in run order: the manifest's numbers, the eval change, and the flags."""
    rows = []
    for name in manifest.get("order", list(manifest.get("stages", {}))):
        if only and name not in only:
            continue
        s = manifest.get("stages", {}).get(name, {"status": "pending"})
        flags = stage_flags(stage_metrics(run_dir, name, s))
        cells = [name, s.get("status"), s.get("steps"), s.get("metric"), s.get("start"), s.get("end"), s.get("wall_s")]
        row = dict(zip(COLUMNS, (fmt(c) for c in cells)))
        row["eval"] = eval_cell(s)
        row["notes"] = "; ".join(str(f) for f in flags) or "-"
        rows.append(row)
    return rows
