"""The report's figures, in page order: (file stem, title, drawing function)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from matplotlib.figure import Figure

from cascade.report import plots, router_plots
from cascade.report.series import StageSeries

Draw = Callable[[list[StageSeries]], Figure | None]

FIGURES: list[tuple[str, str, Draw]] = [
    ("training", "Loss, reward and accuracy", plots.training_figure),
    ("reasons", "Verdict reasons (share of completions)", plots.reasons_figure),
    ("difficulty", "Difficulty per environment", plots.difficulty_figure),
    ("length", "Completion length", plots.length_figure),
    ("router_loads", "Router: expert load per layer", router_plots.loads_figure),
    ("router_layers", "Router: skip rate, entropy and load imbalance", router_plots.layers_figure),
]
DPI = 100


def draw_all(stages: list[StageSeries]) -> list[tuple[str, str, Figure | None]]:
    """Every family's figure, or ``None`` where no stage logged it."""
    return [(stem, title, draw(stages)) for stem, title, draw in FIGURES]


def save_png(fig: Figure, path: Path | None = None) -> bytes:
    """PNG bytes of a figure, also written to ``path`` when given."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    data = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data
