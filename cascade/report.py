"""``cascade report RUN_DIR``: a Markdown report with PNG plots built from the run's metrics.

Plots are drawn from whatever metric families the stages logged: reward and accuracy,
difficulty per environment, verdict reasons, completion length and router load. A family
no stage logged is listed as absent rather than drawn empty.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cascade.callbacks import read_metrics

# (file stem, title, predicate on a metric key)
FAMILIES: list[tuple[str, str, Any]] = [
    ("reward", "Reward and accuracy", lambda k: k in ("reward", "loss") or k.endswith("/accuracy")),
    ("difficulty", "Difficulty per environment", lambda k: k.startswith("curriculum/") and "difficulty" in k),
    ("reasons", "Verdict reasons (fraction of completions)", lambda k: "/reason/" in k),
    ("length", "Completion length", lambda k: k in ("completions/mean_length", "completions/max_length")),
    ("router", "Router load", lambda k: k.startswith("router/")),
]


def _stage_series(records: list[dict[str, Any]], pick: Any) -> dict[str, tuple[list[int], list[float]]]:
    series: dict[str, tuple[list[int], list[float]]] = {}
    for rec in records:
        for key, value in rec.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and pick(key):
                xs, ys = series.setdefault(key, ([], []))
                xs.append(int(rec.get("step", len(xs))))
                ys.append(float(value))
    return series


def _plot(path: Path, title: str, per_stage: dict[str, dict[str, tuple[list[int], list[float]]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = [s for s, series in per_stage.items() if series]
    fig, axes = plt.subplots(1, len(stages), figsize=(5 * len(stages), 3.6), squeeze=False)
    for ax, stage in zip(axes[0], stages):
        for key, (xs, ys) in sorted(per_stage[stage].items())[:12]:
            ax.plot(xs, ys, marker=".", label=key)
        ax.set_title(stage)
        ax.set_xlabel("step")
        ax.legend(fontsize=6)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def write_report(run_dir: Path) -> Path:
    """Write ``run_dir/report.md`` and ``run_dir/plots/*.png``; returns the report path."""
    run_dir = Path(run_dir)
    manifest_path = run_dir / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{run_dir}: no manifest.json (is this a run directory?)")
    manifest = json.loads(manifest_path.read_text())
    order = manifest.get("order", list(manifest["stages"]))
    metrics = {name: read_metrics(run_dir / name / "metrics.jsonl") for name in order}
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    lines = [f"# Cascade report: {run_dir.name}", "", "| stage | status | steps | metric | start | end | time (s) |", "|---|---|---|---|---|---|---|"]
    for name in order:
        s = manifest["stages"].get(name, {})
        cells = [s.get(k) for k in ("status", "steps", "metric", "start", "end", "wall_s")]
        lines.append("| " + " | ".join([name] + ["-" if c is None else (f"{c:.3f}" if isinstance(c, float) else str(c)) for c in cells]) + " |")
    lines.append("")
    for stem, title, pick in FAMILIES:
        per_stage = {name: _stage_series(recs, pick) for name, recs in metrics.items()}
        if not any(per_stage.values()):
            lines += [f"## {title}", "", "_no stage logged these metrics_", ""]
            continue
        _plot(plots / f"{stem}.png", title, per_stage)
        lines += [f"## {title}", "", f"![{title}](plots/{stem}.png)", ""]
    report = run_dir / "report.md"
    report.write_text("\n".join(lines))
    return report
