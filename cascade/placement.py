"""Can a stage be placed on this Ray cluster? Checked before launching, so it fails in seconds.

Ray Train reserves a stage's workers as one placement group (one bundle per worker) and
waits for it; on a cluster that can never hold it, that wait is forever. This module compares
the request with what the cluster's nodes have and names what is missing.
"""

from __future__ import annotations

import math
from typing import Any

from cascade.config import CascadeConfig, StageConfig


class UnplaceableStage(RuntimeError):
    """A stage asks for more than the cluster can ever give."""


def worker_bundle(stage: StageConfig) -> dict[str, float]:
    """One training worker's reservation, as Ray resource names."""
    bundle = {"CPU": stage.resources.worker_cpus}
    if stage.resources.worker_gpus:
        bundle["GPU"] = stage.resources.worker_gpus
    return bundle


def side_actors(cfg: CascadeConfig, stage: StageConfig) -> dict[str, float]:
    """What every training worker's verifier/generator pools reserve, summed over the workers,
    plus the stage's one reward-model actor (shared by its workers) and rollout engines (rank 0's),
    all outside the worker bundles."""
    from cascade.config import RewardSpec
    from stages import get_stage_kind

    n, gen = stage.resources.num_workers, stage.generation
    cpus = n * (cfg.ray.verifier_workers * cfg.ray.verifier_cpus + cfg.ray.generator_workers * cfg.ray.generator_cpus)
    gpus = 0.0
    specs = stage.rewards if stage.rewards is not None else [RewardSpec(**r) for r in get_stage_kind(stage.kind).rewards]
    for spec in specs:
        if spec.name == "reward_model":
            cpus += float(spec.options.get("num_cpus", 0))
            gpus += float(spec.options.get("num_gpus", 0))
    engines = gen.workers if gen.has_engines else 0
    return {"CPU": cpus + engines * gen.num_cpus, "GPU": gpus + engines * gen.num_gpus}


def _fits(node: dict[str, float], bundle: dict[str, float]) -> int:
    """How many ``bundle``s one node holds."""
    counts = [math.floor(node.get(k, 0.0) / v + 1e-9) for k, v in bundle.items() if v > 0]
    return min(counts) if counts else 0


def missing_resources(cfg: CascadeConfig, stage: StageConfig, nodes: list[dict[str, float]]) -> str | None:
    """Why ``stage`` can never be placed on ``nodes`` (their total resources), or None if it can."""
    bundle = worker_bundle(stage)
    want = stage.resources.num_workers
    fit = sum(_fits(n, bundle) for n in nodes)
    total = {k: sum(n.get(k, 0.0) for n in nodes) for k in ("CPU", "GPU")}
    if fit < want:
        return (
            f"stage {stage.name!r} needs {want} training workers of {_fmt(bundle)} each; the cluster "
            f"({len(nodes)} node(s), {_fmt(total)} in all) can hold {fit}: missing {want - fit} x {_fmt(bundle)}"
        )
    extra = side_actors(cfg, stage)
    for key in ("CPU", "GPU"):
        spare = total[key] - want * bundle.get(key, 0.0)
        if extra[key] > spare + 1e-9:
            return (
                f"stage {stage.name!r}: its verifier/generator pools, rollout engines and reward model reserve {extra[key]:g} {key} "
                f"beyond the workers' {want * bundle.get(key, 0.0):g}, the cluster has {total[key]:g}: missing "
                f"{extra[key] - spare:g} {key} (lower ray.verifier_cpus / generator_cpus, the pool sizes, "
                f"generation.workers / num_cpus / num_gpus or the reward model's num_gpus)"
            )
    return None


def _fmt(res: dict[str, float]) -> str:
    return "{" + ", ".join(f"{k}: {v:g}" for k, v in res.items() if v) + "}"


def cluster_nodes() -> list[dict[str, Any]]:
    """Total resources of each live node of the connected Ray cluster."""
    import ray

    return [n["Resources"] for n in ray.nodes() if n.get("Alive")]


def check_placeable(cfg: CascadeConfig, stage: StageConfig) -> None:
    """Raise ``UnplaceableStage`` naming the missing resources (autoscaling clusters: see README)."""
    problem = missing_resources(cfg, stage, cluster_nodes())
    if problem:
        raise UnplaceableStage(problem)
