"""Run one stage on one worker: policy in, TRL trainer over the stage's task stream, HF checkpoint out.

This module wires pieces together and owns no training logic: SFT is TRL's SFTTrainer,
RL is TRL's GRPOTrainer (through ``CascadeGRPOTrainer`` for the recipe switches). With N
Ray Train workers (``cascade/stage_job.py``) every worker runs ``run_stage``; accelerate
finds the process group Ray Train set up, and rank 0 alone writes the stage's files.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from datasets import Dataset, IterableDataset

from cascade.callbacks import MetricsCallback, StreamStateCallback, read_metrics
from cascade.config import CascadeConfig, EnvSpec, RewardSpec, StageConfig
from cascade.curricula import build_curriculum, calibrate_stage, calibration_settings
from cascade.distributed import barrier, is_main, rank, world_size
from cascade.generation.setup import stage_sampler, start_engines
from cascade.manifest import write_json_atomic
from cascade.policy import load_policy, save_policy
from cascade.recipe.stage_recipe import trainer_recipe
from cascade.rsa_refresh import refreshed_specs, start_refresh
from cascade.rewards import build_rewards
from cascade.stage_eval import training_split
from cascade.stage_setup import (
    filter_stream, generator_pool, last_complete_checkpoint, match_threads_to_resources, place_model, quiet_libraries,
    verifier_pool,
)
from cascade.task_stream import TaskStream, as_chat, expand_env_specs
from cascade.tracking import configure_tracking
from cascade.trainer_config import build_trainer_args, trainer_layers
from cascade.worker_logs import log_path, worker_logs
from stages import StageKind, get_stage_kind

log = logging.getLogger(__name__)
SUMMARY_FILE = "summary.json"


def stage_dir(cfg: CascadeConfig, stage: StageConfig) -> Path:
    return Path(cfg.run_dir) / stage.name


def _fixed_args(stage_path: Path) -> dict[str, Any]:
    """Settings that follow from the run layout, not from taste: logging, saving, no hub.

    Every key here must be in ``trainer_config.RESERVED_KEYS`` (a YAML value is refused, not dropped).
    """
    return {**configure_tracking(stage_path), "logging_steps": 1, "save_strategy": "steps", "push_to_hub": False}


def grpo_fixed_args(stage_path: Path) -> dict[str, Any]:
    """GRPO's extra fixed settings: the task stream is the data order and owns its position.

    TRL would shuffle an iterable train set through a 1000-row buffer (drawing the curriculum
    ~1000 tasks ahead of training) and skip already-trained batches on resume (advancing the
    restored stream twice). With N workers every rank iterates the identical stream and
    accelerate hands rank r its contiguous slice of each global batch (``dispatch_batches``
    off, which TRL sets for iterable datasets), so ranks train on distinct tasks.
    """
    return {**_fixed_args(stage_path), "shuffle_dataset": False, "ignore_data_skip": True}


# Defaults the YAML may override (a trainer section's ``save_total_limit`` applies per stage).
def env_specs(kind: StageKind, stage: StageConfig) -> list[EnvSpec]:
    """The stage's environments (YAML, else the kind's defaults), globs expanded."""
    return expand_env_specs(stage.envs if stage.envs is not None else [EnvSpec(**e) for e in kind.envs])


def run_stage(cfg: CascadeConfig, stage_name: str, init_checkpoint: str | None) -> dict[str, Any]:
    """Train one stage on this worker and return its summary; its output goes to ``<stage>/log.txt``."""
    with worker_logs(log_path(Path(cfg.run_dir) / stage_name, rank())):
        return _train_stage(cfg, stage_name, init_checkpoint)


def _train_stage(cfg: CascadeConfig, stage_name: str, init_checkpoint: str | None) -> dict[str, Any]:
    """Train one stage on this worker and return its summary (steps, rewards, wall time, checkpoint)."""
    stage = cfg.stage(stage_name)
    kind = get_stage_kind(stage.kind)
    path = stage_dir(cfg, stage)
    path.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    quiet_libraries()
    match_threads_to_resources(stage)
    model, tokenizer = load_policy(cfg.policy, init_checkpoint, seed=cfg.seed)
    model = place_model(model, stage)
    specs = refreshed_specs(stage, env_specs(kind, stage), path)  # rsa/aggregate -> the refreshed file, if any
    generator = generator_pool(cfg, specs)
    curriculum = build_curriculum(stage, kind, specs)
    stream = TaskStream(specs, seed=cfg.seed, curriculum=curriculum, generator=generator, heldout=training_split(cfg))
    resume = last_complete_checkpoint(path / "checkpoints")
    extra: dict[str, Any] = {}
    pool = None
    trainer: Any = None
    if kind.trainer == "sft":
        trainer = _sft_trainer(cfg, kind, stage, path, model, tokenizer, stream)
    else:
        reward_specs = stage.rewards if stage.rewards is not None else [RewardSpec(**r) for r in kind.rewards]
        pool = verifier_pool(cfg, stage, reward_specs)
    engines = None  # the stage's rollout engines (rank 0's RolloutProducer), when it has them
    try:
        if pool is not None:
            if stage.generation.has_engines and is_main():
                engines = start_engines(stage.generation, model, tokenizer, stream)
            settings = calibration_settings(stage, kind)
            calibrate = settings is not None and curriculum is not None and resume is None
            sampler = None  # what the filter, calibration and RSA refresh sample with (built only if used)
            if calibrate or stage.filter.enabled or engines is not None:
                sampler = stage_sampler(stage.generation, engines, model, tokenizer)
            rsa = start_refresh(stage, cfg.seed, stream, specs, pool, model, tokenizer, path, resume, sampler)
            if calibrate:
                calibrate_stage(curriculum, settings, stream, sampler, tokenizer, pool)
            if stage.filter.enabled:
                extra["filter"] = filter_stream(stage, path, sampler, tokenizer, stream, pool)
            trainer = _grpo_trainer(cfg, kind, stage, path, model, tokenizer, stream, resume, pool, reward_specs, rsa, engines)
            extra["recipe"] = trainer_recipe(trainer, stage)  # logged now, kept in the manifest
        if resume is not None and finished_at(resume, trainer.args.max_steps):
            finalize_from(trainer, resume)  # killed after its last save: finalise it, never train past max_steps
        else:
            trainer.train(resume_from_checkpoint=resume)
    finally:
        close_rewards(trainer)
        for closable in (engines, pool, generator):
            if closable is not None:
                closable.close()
    final = save_final(trainer, tokenizer, path / "final")
    summary = {**summarize(path, trainer.state.global_step, time.monotonic() - started, final, resumed=resume), **extra}
    summary["train_workers"] = world_size()
    if is_main():
        (path / "task_stream.json").write_text(json.dumps(stream.state_dict(), indent=1))
        if not keeps_checkpoints(cfg, stage):
            shutil.rmtree(path / "checkpoints", ignore_errors=True)
        write_json_atomic(path / SUMMARY_FILE, summary)
    barrier()
    return summary


def finished_at(checkpoint: str, max_steps: int) -> bool:
    """Whether a trainer checkpoint already holds the stage's last step (``trainer_state.json``)."""
    state = Path(checkpoint) / "trainer_state.json"
    return max_steps > 0 and state.is_file() and json.loads(state.read_text()).get("global_step", 0) >= max_steps


def finalize_from(trainer: Any, checkpoint: str) -> None:
    """Take the trainer's weights and state from its final checkpoint instead of training again.

    Resuming HF's Trainer from the checkpoint of its last step still runs one more step, so a
    stage killed between its last save and its ``final`` checkpoint would end at max_steps + 1.
    """
    from transformers.trainer_callback import TrainerState

    trainer._load_from_checkpoint(checkpoint)  # the weights (adapters too) as HF's resume loads them
    trainer.state = TrainerState.load_from_json(str(Path(checkpoint) / "trainer_state.json"))
    log.warning("%s already holds step %d of %d: finalised without training", checkpoint,
                trainer.state.global_step, trainer.args.max_steps)


def keeps_checkpoints(cfg: CascadeConfig, stage: StageConfig) -> bool:
    """A finished stage keeps only ``final`` (at 8B a trainer checkpoint is ~70 GB) unless the YAML says so."""
    return stage.keep_checkpoints if stage.keep_checkpoints is not None else cfg.keep_checkpoints


def save_final(trainer: Any, tokenizer: Any, final: Path) -> Path:
    """The stage's plain HF checkpoint, written by rank 0.

    Sharded models (FSDP, DeepSpeed) are gathered by the trainer's own ``save_model``, which
    every rank must enter; an unsharded one is saved by rank 0 (LoRA adapters merged).
    """
    if getattr(trainer, "is_fsdp_enabled", False) or getattr(trainer, "is_deepspeed_enabled", False):
        trainer.save_model(str(final))
        if is_main():
            tokenizer.save_pretrained(final)
    elif is_main():
        save_policy(trainer.model, tokenizer, final)
    barrier()
    return final


def close_rewards(trainer: Any) -> None:
    """Stop what reward functions hold (a reward-model actor, say): each one with a ``close()``."""
    for func in getattr(trainer, "reward_funcs", None) or []:
        close = getattr(func, "close", None)
        if callable(close):
            close()


def _sft_trainer(cfg, kind, stage, path, model, tokenizer, stream) -> Any:  # noqa: ANN001
    from trl import SFTTrainer

    rows = []
    for _ in range(stage.num_tasks):
        task = stream.next_task()
        if task.reference is not None:
            rows.append({"prompt": as_chat(task.prompt), "completion": [{"role": "assistant", "content": task.reference}]})
    if not rows:
        raise ValueError(f"stage {stage.name!r}: its environments produced no reference completions to train on")
    args = build_trainer_args("sft", trainer_layers(cfg, kind, stage), str(path / "checkpoints"), seed=cfg.seed, **_fixed_args(path))
    return SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        callbacks=[MetricsCallback(path / "metrics.jsonl")],
    )


def _grpo_trainer(cfg, kind, stage, path, model, tokenizer, stream, resume, pool, reward_specs, rsa=None, engines=None) -> Any:  # noqa: ANN001
    from cascade.recipe import CascadeGRPOTrainer

    args = build_trainer_args("grpo", trainer_layers(cfg, kind, stage), str(path / "checkpoints"), seed=cfg.seed, **grpo_fixed_args(path))
    funcs, weights = build_rewards(reward_specs, pool, args.num_generations, stream)
    args.reward_weights = weights
    if resume is not None:
        StreamStateCallback.restore(stream, Path(resume))
    extra = stream.metrics if rsa is None else (lambda: {**stream.metrics(), **rsa[0].metrics()})
    callbacks = [MetricsCallback(path / "metrics.jsonl", extra=extra), StreamStateCallback(stream), *([rsa[1]] if rsa else [])]
    dataset = IterableDataset.from_generator(lambda: iter(stream))
    engine_kwargs: dict[str, Any] = {}
    trainer_cls: Any = CascadeGRPOTrainer
    if stage.generation.has_engines:  # --- rollout engines apart from training (cascade/generation)
        from cascade.generation.rollout import PLACEHOLDER_ROW, EngineGRPOTrainer
        from cascade.generation.setup import build_rollout

        replay = args.router_replay if args.router_replay is not None else model.config.model_type == "zaya"
        rollout, engine_callbacks, funcs = build_rollout(stage.generation, model, tokenizer, stream, args.num_generations,
                                                         replay, funcs, pool, producer=engines)
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
