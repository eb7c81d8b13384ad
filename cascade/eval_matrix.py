"""Scoring checkpoints on stage evals: before/after one stage, and the cascade matrix.

Rows of the matrix are checkpoints (the initial policy, then each finished stage's output),
columns are the stages' evals. The diagonal (stage s's eval on stage s's output, against the
row above it) says whether a stage helped its own target; the cells below it say whether
later stages kept that gain. Scoring runs in a Ray task with the stage's resources when Ray
is up and the stage has GPUs, else in this process (a CPU policy then pays no worker
start-up); the cache makes every cell cheap after its first computation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cascade.config import CascadeConfig
from cascade.manifest import Manifest
from cascade.stage_eval import EvalCache, EvalPlan, checkpoint_fingerprint, evaluate_checkpoint, resolve_eval

METRIC = "pass@1"


def _eval_task(cfg_data: dict[str, Any], checkpoint: str | None, stages: list[str], threads: int) -> dict[str, Any]:
    import torch

    torch.set_num_threads(max(1, threads))
    cfg = CascadeConfig.model_validate(cfg_data)
    plans = [p for p in (resolve_eval(cfg, cfg.stage(name)) for name in stages) if p is not None]
    return evaluate_checkpoint(cfg, checkpoint, plans)


def _score(cfg: CascadeConfig, checkpoint: str | None, plans: list[EvalPlan]) -> dict[str, Any]:
    import ray

    stage = cfg.stage(plans[0].stage)
    threads = int(stage.resources.worker_cpus)
    names = [p.stage for p in plans]
    if not ray.is_initialized() or not stage.resources.gpu:  # CPU policies: no worker start-up to pay
        return _eval_task(cfg.model_dump(), checkpoint, names, threads)
    remote = ray.remote(_eval_task).options(
        num_cpus=stage.resources.worker_cpus, num_gpus=stage.resources.worker_gpus, max_retries=0, name="eval"
    )
    return ray.get(remote.remote(cfg.model_dump(), checkpoint, names, threads))


def run_evals(cfg: CascadeConfig, checkpoint: str | None, plans: list[EvalPlan]) -> dict[str, dict[str, Any]]:
    """{stage: result} for ``checkpoint`` on each plan; only cache misses are computed."""
    cache = EvalCache(cfg.run_dir)
    fp = checkpoint_fingerprint(cfg, checkpoint)
    missing = [p for p in plans if cache.get(p, fp) is None]
    if missing:
        results = _score(cfg, checkpoint, missing)
        for plan in missing:
            cache.put(plan, fp, results[plan.stage])
    return {p.stage: cache.get(p, fp) for p in plans}  # type: ignore[misc]


def before_after(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The manifest's per-stage ``eval`` entry."""
    b, a = before["summary"], after["summary"]
    return {"before": b, "after": a, "delta": {m: a[m] - b[m] for m in a if m in b}, "envs": after["envs"]}


def stage_checkpoints(cfg: CascadeConfig, manifest: Manifest) -> list[tuple[str, str | None]]:
    """(label, checkpoint) of the matrix rows: the initial policy, then each finished stage in order."""
    rows: list[tuple[str, str | None]] = [("initial", None)]
    for stage in cfg.stages:
        if manifest.is_done(stage.name):
            rows.append((stage.name, manifest.stage(stage.name)["checkpoint"]))
    return rows


def all_plans(cfg: CascadeConfig) -> dict[str, EvalPlan]:
    """Every stage's eval, by stage name: a checkpoint is scored on all of them at once (one load)."""
    return {s.name: p for s in cfg.stages if (p := resolve_eval(cfg, s)) is not None}


def cascade_matrix(cfg: CascadeConfig, manifest: Manifest, notify: Callable[[str], None] = print) -> dict[str, Any] | None:
    """Every stage eval on every finished stage's checkpoint; stored as the manifest's ``eval_matrix``."""
    plans = list(all_plans(cfg).values())
    if not plans:
        return None
    rows = stage_checkpoints(cfg, manifest)
    values: dict[str, dict[str, float | None]] = {p.stage: {} for p in plans}
    for label, checkpoint in rows:
        results = run_evals(cfg, checkpoint, plans)
        for plan in plans:
            values[plan.stage][label] = results[plan.stage]["summary"][METRIC]
        notify(f"eval matrix: {label}: " + ", ".join(f"{s} {values[s][label]:.3f}" for s in values))
    matrix = {"metric": METRIC, "suites": [p.stage for p in plans], "checkpoints": [r[0] for r in rows], "values": values}
    manifest.set("eval_matrix", matrix)
    return matrix


def forgetting_by_suite(matrix: dict[str, Any]) -> dict[str, float]:
    """Per stage eval: the largest drop of its own metric, from right after the stage to any later checkpoint."""
    out: dict[str, float] = {}
    labels = matrix["checkpoints"]
    for suite in matrix["suites"]:
        if suite not in labels:
            continue
        own = matrix["values"][suite][suite]
        later = [matrix["values"][suite].get(label) for label in labels[labels.index(suite) + 1 :]]
        out[suite] = max([own - v for v in later if own is not None and v is not None] + [0.0])
    return out


def max_forgetting(matrix: dict[str, Any]) -> float:
    """Largest drop of a stage's own metric, from right after it to any later checkpoint (0 if none)."""
    return max(forgetting_by_suite(matrix).values(), default=0.0)
