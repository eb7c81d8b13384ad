"""Router figures that stay readable at 40 layers x 16 experts: heatmaps, not one line per series.

Keys follow ``cascade/recipe/router_telemetry.py``: ``router/layer{l}/load_e{e}``,
``router/layer{l}/load_skip``, ``router/layer{l}/entropy``, ``router/max_min_load_ratio``.
"""

from __future__ import annotations

import math
import re
from typing import Any

from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from cascade.report.plots import mark_stages
from cascade.report.series import StageSeries, is_number, restrict

LOAD = re.compile(r"router/layer(\d+)/load_e(\d+)$")
PER_LAYER = re.compile(r"router/layer(\d+)/(load_skip|entropy|max_min_load_ratio)$")


def shape(stages: list[StageSeries]) -> tuple[int, int]:
    """(layers, experts) seen in any stage's load keys; (0, 0) when no router metrics."""
    layers = experts = 0
    for s in stages:
        for k in s.keys:
            if m := LOAD.match(k):
                layers, experts = max(layers, int(m[1]) + 1), max(experts, int(m[2]) + 1)
    return layers, experts


BALANCE_RANGE = 20.0  # colour scale: 1/20 .. 20 x the balanced load


def load_matrix(record: dict[str, Any], layers: int, experts: int) -> list[list[float]]:
    """(experts, layers) load relative to balanced (1 = the layer's non-skip tokens spread evenly).

    Relative and on a log scale so both a collapsed start (one expert at 0.9) and a balanced end
    (every expert near 1/16) read; NaN where a layer/expert was not logged.
    """
    out = [[math.nan] * layers for _ in range(experts)]
    for l in range(layers):
        loads = [record.get(f"router/layer{l}/load_e{e}") for e in range(experts)]
        total = sum(v for v in loads if is_number(v))
        for e, v in enumerate(loads):
            if is_number(v) and total > 0:
                out[e][l] = min(max(v * experts / total, 1 / BALANCE_RANGE), BALANCE_RANGE)
    return out


def _router_records(stage: StageSeries) -> list[dict[str, Any]]:
    return [r for r in stage.records if any(LOAD.match(k) for k in r)]


def loads_figure(stages: list[StageSeries]) -> Figure | None:
    """Expert x layer load heatmaps at each router stage's first and last logged step, one colour scale."""
    layers, experts = shape(stages)
    shown = [(s, recs) for s in stages if (recs := _router_records(s))]
    if not shown:
        return None
    fig = Figure(figsize=(14, max(3.2, 1.2 + 0.16 * experts * len(shown) + 0.5 * len(shown))), layout="constrained")
    axes = fig.subplots(len(shown), 2, squeeze=False, sharex=True, sharey=True)
    mats = [(s, load_matrix(recs[0], layers, experts), load_matrix(recs[-1], layers, experts), recs) for s, recs in shown]
    norm = LogNorm(vmin=1 / BALANCE_RANGE, vmax=BALANCE_RANGE)
    image = None
    for row, (s, start, end, recs) in zip(axes, mats):
        for ax, mat, when, rec in ((row[0], start, "start", recs[0]), (row[1], end, "end", recs[-1])):
            image = ax.imshow(mat, aspect="auto", origin="lower", cmap="RdBu_r", norm=norm, interpolation="nearest")
            ax.set_title(f"{s.name} {when} (step {rec.get('step', '?')})", fontsize=9)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        row[0].set_ylabel("expert")
    for ax in axes[-1]:
        ax.set_xlabel("layer")
    fig.colorbar(image, ax=axes, label="load / even load (log)", shrink=0.9)
    fig.suptitle("Expert load per layer, relative to an even split of the non-skip tokens")
    return fig


def _layer_grid(stages: list[StageSeries], metric: str, layers: int) -> tuple[list[list[float]], int, int]:
    """(layers, global steps) matrix of a per-layer metric; NaN where a step did not log it."""
    lo = min(s.offset for s in stages)
    hi = max(s.offset + s.length for s in stages)
    grid = [[math.nan] * (hi - lo) for _ in range(layers)]
    for s in stages:
        for x, rec in zip(s.steps(), s.records):
            for l in range(layers):
                v = rec.get(f"router/layer{l}/{metric}")
                if is_number(v) and lo < x <= hi:
                    grid[l][x - lo - 1] = float(v)
    return grid, lo, hi


def layers_figure(stages: list[StageSeries]) -> Figure | None:
    """Skip rate and router entropy per layer over steps (heatmaps), and max/min load ratio on a log axis."""
    layers, _ = shape(stages)
    if layers == 0:
        return None
    stages = restrict(stages, lambda k: k.startswith("router/layer"))
    fig = Figure(figsize=(14, 9.5), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    for ax, metric, label, cmap in ((axes[0], "load_skip", "skip rate", "magma"), (axes[1], "entropy", "router entropy (nats)", "cividis")):
        grid, lo, hi = _layer_grid(stages, metric, layers)
        # column i is global step lo + i + 1: centre it on that step, as the ratio line below is
        peak = max((v for row in grid for v in row if not math.isnan(v)), default=0.0)
        floor = {"vmin": 0.0, "vmax": max(peak, 0.05)} if metric == "load_skip" else {}  # a share: from 0
        image = ax.imshow(grid, aspect="auto", origin="lower", cmap=cmap, interpolation="nearest",
                          extent=(lo + 0.5, hi + 0.5, -0.5, layers - 0.5), **floor)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        fig.colorbar(image, ax=ax, label=label, pad=0.01)
        ax.set_ylabel("layer")
        ax.set_title(f"{label} per layer", fontsize=10, pad=16 if metric == "load_skip" else 6)
        mark_stages(ax, stages, label=metric == "load_skip")
    ax = axes[2]
    ratios, _, _ = _layer_grid(stages, "max_min_load_ratio", layers)
    xs = list(range(min(s.offset for s in stages) + 1, max(s.offset + s.length for s in stages) + 1))
    cols = [[r[i] for r in ratios if not math.isnan(r[i])] for i in range(len(xs))]
    pts = [(x, max(c), sorted(c)[len(c) // 2]) for x, c in zip(xs, cols) if c]
    ax.plot([p[0] for p in pts], [p[1] for p in pts], lw=1, color="C3", label="worst layer")
    ax.plot([p[0] for p in pts], [p[2] for p in pts], lw=1, color="C0", label="median layer")
    ax.set_yscale("log")
    ax.set_ylabel("max/min expert load")
    ax.set_xlabel("step (stages end to end)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # outside: never over the lines
    ax.set_title("load imbalance (log scale; an unused expert counts as one token)", fontsize=10)
    mark_stages(ax, stages)
    return fig


