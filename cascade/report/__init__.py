"""Reports of a run: the summary table with flags, plots, report.md and report.html."""

from cascade.report.markdown import write_report

__all__ = ["write_report"]
