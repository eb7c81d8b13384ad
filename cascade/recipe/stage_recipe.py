"""The recipe in effect per stage of a cascade config, before any model is loaded (load-time checks, plan)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from cascade.recipe.effect import inactive_problems, log_recipe_in_effect, recipe_in_effect


def guess_model_type(name_or_path: str) -> str | None:
    """The policy's model type without loading weights: ``tiny`` is ZAYA, a local checkpoint says so in
    its config.json, a hub id naming ZAYA is ZAYA; anything else is unknown (None) until load."""
    if name_or_path == "tiny":
        return "zaya"
    config = Path(name_or_path) / "config.json"
    if config.is_file():
        try:
            return json.loads(config.read_text()).get("model_type")
        except (OSError, ValueError):
            return None
    return "zaya" if "zaya" in name_or_path.lower() else None


def stage_generation(stage: Any) -> dict[str, Any] | None:
    """The stage's ``generation`` section (rollout engine settings) as a dict, if the schema has one."""
    gen = getattr(stage, "generation", None)
    if gen is None or isinstance(gen, dict):
        return gen
    return gen.model_dump()


def stage_grpo_args(cfg: Any, stage: Any) -> Any | None:
    """The stage's resolved CascadeGRPOConfig (the runner's layers), None for SFT stages.

    Resolved with the CPU hardware layer, so a GPU config resolves on any machine (no recipe row
    depends on the device).
    """
    from cascade.trainer_config import CPU_HARDWARE, build_trainer_args, trainer_layers
    from stages import get_stage_kind

    kind = get_stage_kind(stage.kind)
    if kind.trainer != "grpo":
        return None
    with warnings.catch_warnings():  # deprecation chatter from TrainingArguments belongs to the run, not to load
        warnings.simplefilter("ignore")
        layers = trainer_layers(cfg, kind, stage, hardware=CPU_HARDWARE)
        return build_trainer_args("grpo", layers, str(Path(cfg.run_dir) / stage.name))


def stage_recipe(cfg: Any, stage: Any, num_processes: int = 1) -> dict[str, dict[str, Any]] | None:
    """The recipe-in-effect table of one stage (None for SFT stages)."""
    args = stage_grpo_args(cfg, stage)
    if args is None:
        return None
    return recipe_in_effect(args, guess_model_type(cfg.policy.name_or_path), stage_generation(stage), num_processes=num_processes)


def check_stage_recipes(cfg: Any) -> list[tuple[str, str]]:
    """``(key path, problem)`` for each stage switch that cannot apply and is not allowed inactive."""
    problems: list[tuple[str, str]] = []
    for i, stage in enumerate(cfg.stages):
        try:
            args = stage_grpo_args(cfg, stage)
        except (TypeError, ValueError) as exc:  # TRL's own consistency checks, surfaced at load time
            problems.append((f"stages[{i}].trainer", str(exc).splitlines()[0]))
            continue
        if args is None:
            continue
        rows = recipe_in_effect(args, guess_model_type(cfg.policy.name_or_path), stage_generation(stage))
        problems.extend((f"stages[{i}].trainer.{key}", msg) for key, msg in inactive_problems(rows, args.allow_inactive))
    return problems


def trainer_recipe(trainer: Any, stage: Any) -> dict[str, dict[str, Any]]:
    """The table for a built trainer (its real model type and process count), logged at stage start."""
    model_type = getattr(trainer.model.config, "model_type", None)
    rows = recipe_in_effect(trainer.args, model_type, stage_generation(stage), num_processes=trainer.accelerator.num_processes)
    log_recipe_in_effect(rows, stage.name)
    return rows
