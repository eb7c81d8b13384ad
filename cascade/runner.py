"""Run one stage: policy in, TRL trainer over the stage's task stream, HF checkpoint out.

This module wires pieces together and owns no training logic: SFT is TRL's SFTTrainer,
RL is TRL's GRPOTrainer (through ``CascadeGRPOTrainer`` for the recipe switches).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from datasets import Dataset, IterableDataset
from transformers.trainer_utils import get_last_checkpoint

from cascade.callbacks import MetricsCallback, StreamStateCallback, read_metrics
from cascade.config import CascadeConfig, EnvSpec, RewardSpec, StageConfig
from cascade.curricula import build_curriculum, calibrate_stage, calibration_settings
from cascade.filtering import filter_by_pass_rate
from cascade.policy import load_policy, save_policy
from cascade.recipe.stage_recipe import trainer_recipe
from cascade.rewards import build_rewards, pool_verifier_options
from cascade.stage_eval import training_split
from cascade.task_stream import TaskStream, as_chat, expand_env_specs
from cascade.trainer_config import build_trainer_args
from cascade.tracking import configure_tracking, tracking_defaults
from cascade.worker_logs import log_path, worker_logs
from stages import StageKind, get_stage_kind

log = logging.getLogger(__name__)


def stage_dir(cfg: CascadeConfig, stage: StageConfig) -> Path:
    return Path(cfg.run_dir) / stage.name


def _fixed_args(stage_path: Path) -> dict[str, Any]:
    """Settings that follow from the run layout, not from taste: logging, saving, no hub.

    Every key here must be in ``trainer_config.RESERVED_KEYS`` (a YAML value is refused, not dropped).
    """
    return {
        **configure_tracking(stage_path),
        "logging_steps": 1,
        "save_strategy": "steps",
        "save_total_limit": 2,
        "push_to_hub": False,
    }


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


def _match_threads_to_resources(stage: StageConfig) -> None:
    """Torch threads = the CPUs the stage was given: oversubscribed cores make a small CPU
    model ~10x slower per step (measured in benchmarks/learning.py)."""
    import torch

    torch.set_num_threads(max(1, int(stage.resources.num_cpus)))


def _hardware_defaults() -> dict[str, Any]:
    """TRL defaults to bf16, which a CPU-only machine rejects; the YAML can still override."""
    import torch

    return {} if torch.cuda.is_available() else {"use_cpu": True, "bf16": False}


def _layers(cfg: CascadeConfig, kind: StageKind, stage: StageConfig) -> list[dict[str, Any]]:
    return [{**tracking_defaults(Path(cfg.run_dir).name), **_hardware_defaults()}, kind.trainer_defaults, cfg.trainer, stage.trainer]


def env_specs(kind: StageKind, stage: StageConfig) -> list[EnvSpec]:
    """The stage's environments (YAML, else the kind's defaults), globs expanded."""
    return expand_env_specs(stage.envs if stage.envs is not None else [EnvSpec(**e) for e in kind.envs])


def run_stage(cfg: CascadeConfig, stage_name: str, init_checkpoint: str | None) -> dict[str, Any]:
    """Train one stage and return its summary; this worker's output goes to ``<stage>/log.txt``."""
    with worker_logs(log_path(Path(cfg.run_dir) / stage_name)):
        return _train_stage(cfg, stage_name, init_checkpoint)


def _train_stage(cfg: CascadeConfig, stage_name: str, init_checkpoint: str | None) -> dict[str, Any]:
    """Train one stage and return its summary (steps, rewards, wall time, checkpoint)."""
    stage = cfg.stage(stage_name)
    kind = get_stage_kind(stage.kind)
    path = stage_dir(cfg, stage)
    path.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    quiet_libraries()
    _match_threads_to_resources(stage)
    model, tokenizer = load_policy(cfg.policy, init_checkpoint, seed=cfg.seed)
    specs = env_specs(kind, stage)
    generator = _generator_pool(cfg, specs)
    curriculum = build_curriculum(stage, kind, [s.id for s in specs])
    stream = TaskStream(specs, seed=cfg.seed, curriculum=curriculum, generator=generator, heldout=training_split(cfg))
    resume = get_last_checkpoint(str(path / "checkpoints")) if (path / "checkpoints").is_dir() else None
    extra: dict[str, Any] = {}
    pool = None
    trainer: Any = None
    if kind.trainer == "sft":
        trainer = _sft_trainer(cfg, kind, stage, path, model, tokenizer, stream)
    else:
        reward_specs = stage.rewards if stage.rewards is not None else [RewardSpec(**r) for r in kind.rewards]
        pool = _verifier_pool(cfg, stage, reward_specs)
    try:
        if pool is not None:
            settings = calibration_settings(stage, kind)
            if settings is not None and curriculum is not None and resume is None:
                calibrate_stage(curriculum, settings, stream, model, tokenizer, pool)
            if stage.filter.enabled:
                extra["filter"] = _filter_stream(stage, path, model, tokenizer, stream, pool)
            trainer = _grpo_trainer(cfg, kind, stage, path, model, tokenizer, stream, resume, pool, reward_specs)
            extra["recipe"] = trainer_recipe(trainer, stage)  # logged now, kept in the manifest
        trainer.train(resume_from_checkpoint=resume)
    finally:
        close_rewards(trainer)
        for closable in (pool, generator):
            if closable is not None:
                closable.close()
    final = save_policy(trainer.model, tokenizer, path / "final")
    (path / "task_stream.json").write_text(json.dumps(stream.state_dict(), indent=1))
    summary = summarize(path, trainer.state.global_step, time.monotonic() - started, final, resumed=resume)
    return {**summary, **extra}


def close_rewards(trainer: Any) -> None:
    """Stop what reward functions hold (a reward-model actor, say): each one with a ``close()``."""
    for func in getattr(trainer, "reward_funcs", None) or []:
        close = getattr(func, "close", None)
        if callable(close):
            close()


def _filter_stream(stage: StageConfig, path: Path, model: Any, tokenizer: Any, stream: TaskStream, pool: Any) -> dict[str, Any]:
    """Restrict the stream to prompts the incoming policy the incoming policy solves at a rate inside the configured window."""
    from cascade.generation.setup import in_process_engine  # --- the filter samples through the engine API

    candidates = [stream.next_task() for _ in range(stage.filter.num_prompts)]
    engine = in_process_engine(stage.generation, model, tokenizer)
    kept, stats = filter_by_pass_rate(engine, tokenizer, candidates, stage.filter, pool, path)
    if not kept:
        raise ValueError(
            f"stage {stage.name!r}: pass-rate filter kept no prompt of {len(candidates)} "
            f"(pass rates: {stats['histogram']}); widen filter.min_pass/max_pass"
        )
    stream.restrict_to(kept)
    return stats


def _sft_trainer(cfg, kind, stage, path, model, tokenizer, stream) -> Any:  # noqa: ANN001
    from trl import SFTTrainer

    rows = []
    for _ in range(stage.num_tasks):
        task = stream.next_task()
        if task.reference is not None:
            rows.append({"prompt": as_chat(task.prompt), "completion": [{"role": "assistant", "content": task.reference}]})
    if not rows:
        raise ValueError(f"stage {stage.name!r}: its environments produced no reference completions to train on")
    args = build_trainer_args("sft", _layers(cfg, kind, stage), str(path / "checkpoints"), seed=cfg.seed, **_fixed_args(path))
    return SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        callbacks=[MetricsCallback(path / "metrics.jsonl")],
    )


def _generator_pool(cfg: CascadeConfig, specs: list[EnvSpec]) -> Any | None:
    """A generator pool when some env's source declares it must run in its own process."""
    import ray

    from envs import is_isolated

    if not ray.is_initialized() or not any(is_isolated(s.id) for s in specs):
        return None
    from envs.generator_pool import GeneratorPool

    return GeneratorPool(cfg.ray.generator_workers, cfg.ray.generator_timeout_s)


def _verifier_pool(cfg: CascadeConfig, stage: StageConfig, rewards: list[RewardSpec]) -> Any:
    import ray

    from verifiers.pool import LocalVerifierPool, RayVerifierPool

    options = pool_verifier_options(cfg.verifier_options(stage), rewards)
    if ray.is_initialized():
        return RayVerifierPool(cfg.ray.verifier_workers, cfg.ray.verifier_timeout_s, options)
    return LocalVerifierPool(options)


def _grpo_trainer(cfg, kind, stage, path, model, tokenizer, stream, resume, pool, reward_specs) -> Any:  # noqa: ANN001
    from cascade.recipe import CascadeGRPOTrainer

    args = build_trainer_args("grpo", _layers(cfg, kind, stage), str(path / "checkpoints"), seed=cfg.seed, **_fixed_args(path))
    funcs, weights = build_rewards(reward_specs, pool, args.num_generations, stream)
    args.reward_weights = weights
    if resume is not None:
        StreamStateCallback.restore(stream, Path(resume))
    callbacks = [MetricsCallback(path / "metrics.jsonl", extra=stream.metrics), StreamStateCallback(stream)]
    dataset = IterableDataset.from_generator(lambda: iter(stream))
    engine_kwargs: dict[str, Any] = {}
    trainer_cls: Any = CascadeGRPOTrainer
    if stage.generation.backend != "trainer":  # --- rollout engines apart from training (cascade/generation)
        from cascade.generation.rollout import PLACEHOLDER_ROW, EngineGRPOTrainer
        from cascade.generation.setup import build_rollout

        replay = args.router_replay if args.router_replay is not None else model.config.model_type == "zaya"
        rollout, engine_callbacks, funcs = build_rollout(stage.generation, model, tokenizer, stream, args.num_generations,
                                                         replay, funcs, pool)
        callbacks += engine_callbacks
        engine_kwargs["rollout_func"] = rollout
        if stage.generation.max_staleness > 0:  # the buffer picks the tasks; TRL iterates placeholders
            dataset = IterableDataset.from_generator(lambda: iter(lambda: dict(PLACEHOLDER_ROW), None))
        trainer_cls = EngineGRPOTrainer  # --- end of the engine hunk
    return trainer_cls(
        model=model,
        reward_funcs=funcs,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=callbacks,
        **engine_kwargs,
    )


def summarize(path: Path, steps: int, wall_s: float, final: Path, resumed: str | None) -> dict[str, Any]:
    """The per-stage numbers the manifest and the end-of-run table show."""
    records = [r for r in read_metrics(path / "metrics.jsonl") if "reward" in r or "loss" in r]
    key = "reward" if any("reward" in r for r in records) else "loss"
    values = [r[key] for r in records if key in r]
    return {
        "steps": steps,
        "metric": key,
        "start": values[0] if values else None,
        "end": values[-1] if values else None,
        "wall_s": round(wall_s, 2),
        "checkpoint": str(final),
        "resumed_from": resumed,
        "metrics_file": str(path / "metrics.jsonl"),
    }
