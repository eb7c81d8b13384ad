"""The stage x eval-suite matrix of the manifest (``eval_matrix``), as a table and a heatmap.

Format: ``{"metric": "pass@1", "suites": [...], "checkpoints": ["initial", <stage>...],
"values": {suite: {checkpoint: float | null}}}``; rows are checkpoints, columns suites.
"""

from __future__ import annotations

import math
from typing import Any

from matplotlib.figure import Figure


def matrix_of(manifest: dict[str, Any]) -> dict[str, Any] | None:
    m = manifest.get("eval_matrix")
    return m if isinstance(m, dict) and m.get("suites") and m.get("checkpoints") else None


def cell(matrix: dict[str, Any], suite: str, checkpoint: str) -> float | None:
    value = (matrix.get("values") or {}).get(suite, {}).get(checkpoint)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def table_rows(matrix: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header (``checkpoint``, suites...) and one row per checkpoint; ``-`` where not measured."""
    header = ["checkpoint", *matrix["suites"]]
    rows = []
    for ckpt in matrix["checkpoints"]:
        values = [cell(matrix, s, ckpt) for s in matrix["suites"]]
        rows.append([ckpt, *("-" if v is None else f"{v:.3f}" for v in values)])
    return header, rows


def markdown(matrix: dict[str, Any]) -> list[str]:
    header, rows = table_rows(matrix)
    return [f"{matrix.get('metric', 'score')} per checkpoint and suite:", "", "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def figure(matrix: dict[str, Any]) -> Figure:
    """Heatmap, rows checkpoints and columns suites, each cell annotated; grey where not measured."""
    suites, ckpts = matrix["suites"], matrix["checkpoints"]
    grid = [[(cell(matrix, s, c) if cell(matrix, s, c) is not None else math.nan) for s in suites] for c in ckpts]
    fig = Figure(figsize=(max(5.0, 1.1 * len(suites) + 3), 0.5 * len(ckpts) + 1.6), layout="constrained")
    ax = fig.subplots()
    ax.set_facecolor("0.85")
    image = ax.imshow(grid, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(suites)), suites, rotation=30, ha="right")
    ax.set_yticks(range(len(ckpts)), ckpts)
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            if not math.isnan(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8, color="white" if v < 0.6 else "black")
    fig.colorbar(image, ax=ax, label=matrix.get("metric", "score"))
    ax.set_title(f"{matrix.get('metric', 'score')} after each stage")
    return fig
