"""``cascade report RUN_DIR``: a Markdown report with PNG plots built from the run's metrics.

Plots are drawn from whatever metric families the stages logged; a family no stage logged
is listed as absent rather than drawn empty. The summary table carries each stage's flags.
"""

from __future__ import annotations

from pathlib import Path

from cascade.report.figures import draw_all, save_png
from cascade.report.series import load_run
from cascade.report.summary import COLUMNS, summary_rows


def markdown_table(rows: list[dict[str, str]]) -> list[str]:
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    return lines + ["| " + " | ".join(esc(row[c]) for c in COLUMNS) + " |" for row in rows]


def write_report(run_dir: Path) -> Path:
    """Write ``run_dir/report.md`` and ``run_dir/plots/*.png``; returns the report path."""
    run_dir = Path(run_dir)
    manifest, stages = load_run(run_dir)
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    lines = [f"# Cascade report: {run_dir.name}", "", *markdown_table(summary_rows(run_dir, manifest)), ""]
    for stem, title, fig in draw_all(stages):
        lines += [f"## {title}", ""]
        if fig is None:
            lines += ["_no stage logged these metrics_", ""]
            continue
        save_png(fig, plots / f"{stem}.png")
        lines += [f"![{title}](plots/{stem}.png)", ""]
    report = run_dir / "report.md"
    report.write_text("\n".join(lines))
    return report
