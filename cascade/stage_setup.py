"""What a stage worker sets up around its trainer: threads, device, pools, the pass-rate filter.

Split out of ``cascade/runner.py`` so the runner reads as the wiring of one stage.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from cascade.config import CascadeConfig, EnvSpec, RewardSpec, StageConfig
from cascade.distributed import local_device
from cascade.filtering import filter_by_pass_rate
from cascade.task_stream import TaskStream

log = logging.getLogger(__name__)


def quiet_libraries() -> None:
    """Drop library deprecation chatter; the trainer's own bar stays (``disable_tqdm: false`` in
    cascade/tracking.py, since set_verbosity_error() would default it to True)."""
    import warnings

    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    for module in ("transformers", "trl", "accelerate", "peft"):
        warnings.filterwarnings("ignore", category=FutureWarning, module=module)
        warnings.filterwarnings("ignore", category=UserWarning, module=module)


def match_threads_to_resources(stage: StageConfig) -> None:
    """Torch threads = the CPUs one worker was given: oversubscribed cores make a small CPU
    model ~10x slower per step (measured in benchmarks/learning.py)."""
    import torch

    torch.set_num_threads(max(1, int(stage.resources.worker_cpus)))


def place_model(model: Any, stage: StageConfig) -> Any:
    """The policy on this worker's device before anything generates with it (the filter does).

    A GPU stage whose worker sees no GPU is an error, never a quiet CPU run.
    """
    import torch

    device = local_device() if stage.resources.gpu else torch.device("cpu")
    if stage.resources.gpu and device.type != "cuda":
        raise RuntimeError(f"stage {stage.name!r} asks for GPUs but this worker has none (device {device})")
    return model.to(device)


def generator_pool(cfg: CascadeConfig, specs: list[EnvSpec]) -> Any | None:
    """A generator pool when some env's source declares it must run in its own process."""
    import ray

    from envs import is_isolated

    if not ray.is_initialized() or not any(is_isolated(s.id) for s in specs):
        return None
    from envs.generator_pool import GeneratorPool

    return GeneratorPool(cfg.ray.generator_workers, cfg.ray.generator_timeout_s, num_cpus=cfg.ray.generator_cpus)


def verifier_pool(cfg: CascadeConfig, stage: StageConfig, rewards: list[RewardSpec]) -> Any:
    """The stage's verifier pool, each verifier built with the YAML's options for it."""
    import ray

    from cascade.rewards import pool_verifier_options
    from verifiers.pool import LocalVerifierPool, RayVerifierPool

    options = pool_verifier_options(cfg.verifier_options(stage), rewards)
    if ray.is_initialized():
        return RayVerifierPool(cfg.ray.verifier_workers, cfg.ray.verifier_timeout_s, options, num_cpus=cfg.ray.verifier_cpus)
    return LocalVerifierPool(options)


def filter_stream(stage: StageConfig, path: Path, engine: Any, tokenizer: Any, stream: TaskStream, pool: Any) -> dict[str, Any]:
    """Restrict the stream to prompts the incoming policy solves at a rate inside the configured window.

    Every rank draws the same candidates (identical streams); ``engine`` is this rank's sampler
    (``generation.setup.stage_sampler``), and all ranks apply the same merged verdicts, so their
    streams stay identical.
    """
    candidates = [stream.next_task() for _ in range(stage.filter.num_prompts)]
    kept, stats = filter_by_pass_rate(engine, tokenizer, candidates, stage.filter, pool, path, shared=stage.generation.has_engines)
    if not kept:
        raise ValueError(
            f"stage {stage.name!r}: pass-rate filter kept no prompt of {len(candidates)} "
            f"(pass rates: {stats['histogram']}); widen filter.min_pass/max_pass"
        )
    stream.restrict_to(kept)
    return stats


def last_complete_checkpoint(folder: Path) -> str | None:
    """The newest trainer checkpoint that was written whole; torn ones (a kill mid-save) are removed.

    HF writes ``checkpoint-N`` in place and ``trainer_state.json`` last, so a checkpoint without it
    was cut short; resuming from it would fail, so the previous one (one save interval back) is used.
    """
    import shutil

    from cascade.distributed import is_main

    if not folder.is_dir():
        return None
    ckpts = sorted((p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()),
                   key=lambda p: int(p.name.split("-")[-1]), reverse=True)
    for ckpt in ckpts:
        if (ckpt / "trainer_state.json").is_file():
            return str(ckpt)
        log.warning("%s was cut short (no trainer_state.json): resuming from an earlier checkpoint", ckpt)
        if is_main():
            shutil.rmtree(ckpt, ignore_errors=True)
    return None
