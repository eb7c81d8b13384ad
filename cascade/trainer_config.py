"""Trainer sections of the YAML, checked against and turned into TRL config dataclasses."""

from __future__ import annotations

import dataclasses
import functools
import typing
from pathlib import Path
from typing import Any, Literal

import pydantic
from trl import SFTConfig

from cascade.recipe import CascadeGRPOConfig
from cascade.tracking import check_report_to, tracking_defaults

TrainerKind = Literal["grpo", "sft"]
CONFIG_CLASSES: dict[str, type] = {"grpo": CascadeGRPOConfig, "sft": SFTConfig}
# Set by the runner from the run layout (cascade/runner.py _fixed_args, cascade/tracking.py);
# a YAML value would be silently overwritten, so it is refused at load time.
RESERVED_KEYS = {"output_dir", "run_name", "logging_steps", "save_strategy", "push_to_hub"}
# Set by the runner for GRPO stages: the task stream is already random and owns its position.
RESERVED_GRPO_KEYS = {
    "shuffle_dataset": "is set by the runner (false): the task stream is already random, and TRL's "
    "1000-row shuffle buffer would draw the curriculum ~1000 tasks ahead of training",
    "ignore_data_skip": "is set by the runner (true): a resumed stage restores the task stream's "
    "position from the checkpoint, so skipping batches would advance it twice",
}


# Fields whose annotation is narrower than what TrainingArguments accepts: ``fsdp`` is
# annotated ``str | None`` but ``fsdp: true`` (FSDP2 configured by ``fsdp_config``) is its
# documented modern form; without this the YAML check would block sharding.
FIELD_TYPE_OVERRIDES: dict[str, Any] = {"fsdp": bool | str | None}


@functools.cache
def _field_types(kind: str) -> dict[str, Any]:
    cls = CONFIG_CLASSES[kind]
    hints = typing.get_type_hints(cls)
    return {f.name: FIELD_TYPE_OVERRIDES.get(f.name, hints[f.name]) for f in dataclasses.fields(cls) if f.init}


def check_trainer_section(section: dict[str, Any], kind: TrainerKind | None) -> list[tuple[str, str]]:
    """Problems with a trainer section as ``(key, message)``; ``kind=None`` means shared defaults.

    Valid values are coerced in place to the field's type: YAML reads ``1e-5`` as a
    string, and TRL would otherwise receive it as one.
    """
    problems: list[tuple[str, str]] = []
    kinds = [kind] if kind else list(CONFIG_CLASSES)
    for key, value in section.items():
        if key in RESERVED_KEYS:
            problems.append((key, "is set by the run layout and cannot be configured"))
            continue
        if key in RESERVED_GRPO_KEYS and kind in (None, "grpo"):
            problems.append((key, RESERVED_GRPO_KEYS[key]))
            continue
        owners = [k for k in kinds if key in _field_types(k)]
        if not owners:
            where = " or ".join(CONFIG_CLASSES[k].__name__ for k in kinds)
            problems.append((key, f"unknown trainer option (not a field of {where})"))
            continue
        try:
            section[key] = pydantic.TypeAdapter(_field_types(owners[0])[key]).validate_python(value)
        except pydantic.ValidationError as exc:
            problems.append((key, exc.errors()[0]["msg"]))
            continue
        if key == "report_to" and (problem := check_report_to(section[key])):
            problems.append((key, problem))
    return problems


def merge_layers(kind: TrainerKind, layers: list[dict[str, Any]], **fixed: Any) -> dict[str, Any]:
    """Config layers merged (later wins), only the keys this trainer knows, then ``fixed``."""
    fields = _field_types(kind)
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update({k: v for k, v in layer.items() if k in fields})
    merged.update(fixed)
    return merged


def build_trainer_args(
    kind: TrainerKind, layers: list[dict[str, Any]], output_dir: str, **fixed: Any
) -> Any:
    """Merge config layers (later wins), keep the keys this trainer knows, build its config."""
    return CONFIG_CLASSES[kind](output_dir=output_dir, **merge_layers(kind, layers, **fixed))


# The layers a stage's trainer args are built from, later wins: the runner, `cascade plan` and
# the load-time recipe checks all resolve them here, so they cannot drift apart.
RUN_DEFAULTS: dict[str, Any] = {"save_total_limit": 2}
CPU_HARDWARE: dict[str, Any] = {"use_cpu": True, "bf16": False}  # TRL defaults to bf16, which a CPU rejects


def hardware_defaults(stage: Any) -> dict[str, Any]:
    """CPU workers train on CPU; the YAML can still override."""
    return {} if stage.resources.gpu else dict(CPU_HARDWARE)


def trainer_layers(cfg: Any, kind: Any, stage: Any, hardware: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """``hardware`` replaces the stage's own hardware layer (load-time checks resolve a GPU config on a CPU)."""
    hw = hardware_defaults(stage) if hardware is None else hardware
    return [{**tracking_defaults(Path(cfg.run_dir).name), **hw}, RUN_DEFAULTS, kind.trainer_defaults, cfg.trainer, stage.trainer]
