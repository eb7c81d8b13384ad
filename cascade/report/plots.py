"""Training-curve figures for the report: one metric per axis, stages end to end on the x axis.

Each function returns a matplotlib ``Figure`` (no pyplot state, so reports can be drawn from any
thread) or ``None`` when no stage logged the family.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from cascade.report.series import StageSeries, restrict

MAX_ENV_LINES = 20


def smooth(ys: list[float], window: int) -> list[float]:
    """Trailing mean; a 400-step curve of per-step rewards reads only smoothed."""
    out, acc = [], 0.0
    for i, y in enumerate(ys):
        acc += y
        if i >= window:
            acc -= ys[i - window]
        out.append(acc / min(i + 1, window))
    return out


def mark_stages(ax: Any, stages: list[StageSeries], label: bool = False) -> None:
    """Stage boundaries as dotted lines; stage names along the top of the first axis; whole steps."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    span = max((s.offset + s.length for s in stages), default=1) or 1
    for s in stages:
        if s.length == 0:
            continue
        ax.axvline(s.offset + 0.5, color="0.6", lw=0.6, ls=":")  # between its first step and the last one before
        if label and s.length / span >= 0.05:  # a sliver of a stage would print its name over the next
            ax.text(s.offset + 0.5 + s.length / 2, 1.02, s.name, transform=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=8)


def _accuracy_keys(stages: list[StageSeries]) -> list[str]:
    keys = {k for s in stages for k in s.keys if k.endswith("/accuracy") and not k.startswith("curriculum/")}
    return sorted(keys)


def _line(ax: Any, xs: list[int], ys: list[float], label: str, color: Any) -> None:
    window = max(1, len(ys) // 40)
    if window > 1:
        ax.plot(xs, ys, color=color, lw=0.5, alpha=0.3)
    ax.plot(xs, smooth(ys, window), color=color, lw=1.4, label=label, marker="." if len(xs) <= 30 else None)


def training_figure(stages: list[StageSeries]) -> Figure | None:
    """Loss, reward and verifier accuracy, each on its own axis (thin: per step, thick: smoothed)."""
    panels = [(name, keys) for name, keys in (("loss", ["loss"]), ("reward", ["reward"]), ("accuracy", _accuracy_keys(stages)))
              if any(k in s.keys for s in stages for k in keys)]
    if not panels:
        return None
    fig = Figure(figsize=(13, 2.9 * len(panels) + 0.6), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    everything = stages
    for ax, (name, keys) in zip(axes, panels):
        stages = restrict(everything, lambda k: k in keys)  # each panel spans the stages that logged it
        for j, key in enumerate(keys):
            color = f"C{j % 10}"
            for s in stages:
                xs, ys = s.series(key)
                if xs:
                    _line(ax, xs, ys, key if s is next(t for t in stages if key in t.keys) else "_", color)
        ax.set_ylabel(name)
        if len(keys) > 1:
            ax.legend(fontsize=7, loc="upper left")
        mark_stages(ax, stages, label=True)
    axes[-1].set_xlabel("step (the stages that logged the metric, end to end)")
    return fig


def length_figure(stages: list[StageSeries]) -> Figure | None:
    keys = [k for k in ("completions/mean_length", "completions/max_length") if any(k in s.keys for s in stages)]
    if not keys:
        return None
    stages = restrict(stages, lambda k: k in keys)
    fig = Figure(figsize=(13, 3), layout="constrained")
    ax = fig.subplots()
    for j, key in enumerate(keys):
        for s in stages:
            xs, ys = s.series(key)
            if xs:
                _line(ax, xs, ys, key if s is next(t for t in stages if key in t.keys) else "_", f"C{j}")
    ax.set_ylabel("tokens")
    ax.set_xlabel("step (stages end to end)")
    ax.legend(fontsize=7, loc="upper left")
    mark_stages(ax, stages, label=True)
    return fig


def _reason_keys(stages: list[StageSeries]) -> dict[str, list[str]]:
    """Reason keys grouped by reward function: ``task/reason/wrong_answer`` -> ``task``."""
    groups: dict[str, set[str]] = {}
    for s in stages:
        for k in s.keys:
            if "/reason/" in k:
                groups.setdefault(k.split("/reason/")[0], set()).add(k)
    return {g: sorted(keys) for g, keys in sorted(groups.items())}


def reasons_figure(stages: list[StageSeries]) -> Figure | None:
    """Verdict reasons as stacked areas per reward function; a reason absent from a step counts 0."""
    groups = _reason_keys(stages)
    if not groups:
        return None
    stages = restrict(stages, lambda k: "/reason/" in k)
    fig = Figure(figsize=(13, 2.8 * len(groups) + 0.6), layout="constrained")
    axes = fig.subplots(len(groups), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (group, keys) in zip(axes, groups.items()):
        colors = {k: f"C{i % 10}" if i < 10 else f"C{i % 10}" for i, k in enumerate(keys)}
        for s in stages:
            recs = [(x, r) for x, r in zip(s.steps(), s.records) if any(k in r for k in keys)]
            if not recs:
                continue
            xs = [x for x, _ in recs]
            ys = [[float(r.get(k) or 0.0) for _, r in recs] for k in keys]
            ax.stackplot(xs, ys, colors=[colors[k] for k in keys], lw=0)
        for k in keys:
            ax.fill_between([], [], color=colors[k], label=k.split("/reason/")[1])
        ax.set_ylim(0, 1)
        ax.set_ylabel(f"{group}: share")
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
        mark_stages(ax, stages, label=ax is axes[0])
    axes[-1].set_xlabel("step (stages end to end)")
    return fig


def _env_keys(stage: StageSeries) -> list[str]:
    return sorted(k for k in stage.keys if k.startswith("curriculum/") and k.endswith("/difficulty") and k != "curriculum/mean_difficulty")


def difficulty_figure(stages: list[StageSeries]) -> Figure | None:
    """Per stage with a curriculum: the most-sampled envs as lines, the rest as a min-max band."""
    shown = [s for s in stages if _env_keys(s)]
    if not shown:
        return None
    fig = Figure(figsize=(13, 3.4 * len(shown)), layout="constrained")
    axes = fig.subplots(len(shown), 1, squeeze=False)[:, 0]
    for ax, s in zip(axes, [replace(s, offset=0) for s in shown]):
        keys = _env_keys(s)
        last = s.records[-1] if s.records else {}
        keys.sort(key=lambda k: -float(last.get(k.replace("/difficulty", "/samples")) or 0.0))
        lines, rest = keys[:MAX_ENV_LINES], keys[MAX_ENV_LINES:]
        if rest:
            xs = s.steps()
            vals = [[float(r[k]) for k in rest if k in r] for r in s.records]
            pts = [(x, min(v), max(v), sorted(v)[len(v) // 2]) for x, v in zip(xs, vals) if v]
            ax.fill_between([p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts], color="0.8", label=f"other {len(rest)} envs (min-max)")
            ax.plot([p[0] for p in pts], [p[3] for p in pts], color="0.45", lw=1, ls="--", label=f"other {len(rest)} envs (median)")
        for i, key in enumerate(lines):
            xs, ys = s.series(key)
            ax.plot(xs, ys, lw=1.1, color=f"C{i % 10}", ls="-" if i < 10 else "-.", label=key[len("curriculum/"):-len("/difficulty")])
        ax.set_title(f"{s.name}: difficulty per environment", fontsize=10)
        ax.set_ylabel("difficulty")
        ax.set_xlabel("step")
        ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5), ncol=1 + len(lines) // 12)
    return fig
