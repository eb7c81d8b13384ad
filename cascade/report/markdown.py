"""``cascade report RUN_DIR``: a Markdown report with PNG plots built from the run's metrics.

Plots are drawn from whatever metric families the stages logged; a family no stage logged
is listed as absent rather than drawn empty. The summary table carries each stage's flags.
"""

from __future__ import annotations

from pathlib import Path

from cascade.report import eval_matrix
from cascade.report.figures import draw_all, save_png
from cascade.report.series import load_run
from cascade.report.summary import COLUMNS, summary_rows


def markdown_table(rows: list[dict[str, str]]) -> list[str]:
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    return lines + ["| " + " | ".join(esc(row[c]) for c in COLUMNS) + " |" for row in rows]


def write_report(run_dir: Path, html: bool = False) -> Path:
    """Write ``run_dir/report.md`` and ``run_dir/plots/*.png`` (and ``report.html`` from the same
    figures when ``html``); returns the Markdown report's path."""
    run_dir = Path(run_dir)
    manifest, stages = load_run(run_dir)
    figures = draw_all(stages)
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    lines = [f"# Cascade report: {run_dir.name}", "", *markdown_table(summary_rows(run_dir, manifest)), ""]
    if (matrix := eval_matrix.matrix_of(manifest)) is not None:
        save_png(eval_matrix.figure(matrix), plots / "eval_matrix.png")
        lines += ["## Eval matrix", "", *eval_matrix.markdown(matrix), "", "![eval matrix](plots/eval_matrix.png)", ""]
    pngs: dict[str, bytes | None] = {}
    for stem, title, fig in figures:
        lines += [f"## {title}", ""]
        pngs[stem] = None if fig is None else save_png(fig, plots / f"{stem}.png")
        lines += ["_no stage logged these metrics_" if fig is None else f"![{title}](plots/{stem}.png)", ""]
    report = run_dir / "report.md"
    report.write_text("\n".join(lines))
    if html:
        from cascade.report.html import render

        (run_dir / "report.html").write_text(render(run_dir, manifest, [(s, t, pngs[s]) for s, t, _ in figures]))
    return report
