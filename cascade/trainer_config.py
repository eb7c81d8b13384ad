"""Trainer sections of the YAML, checked against and turned into TRL config dataclasses."""

from __future__ import annotations

import dataclasses
import functools
import typing
from typing import Any, Literal

import pydantic
from trl import SFTConfig

from cascade.recipe import CascadeGRPOConfig
from cascade.tracking import check_report_to

TrainerKind = Literal["grpo", "sft"]
CONFIG_CLASSES: dict[str, type] = {"grpo": CascadeGRPOConfig, "sft": SFTConfig}
# Set by the runner from the run layout (cascade/runner.py _fixed_args, cascade/tracking.py);
# a YAML value would be silently overwritten, so it is refused at load time.
RESERVED_KEYS = {"output_dir", "run_name", "logging_steps", "save_strategy", "save_total_limit", "push_to_hub"}


@functools.cache
def _field_types(kind: str) -> dict[str, Any]:
    cls = CONFIG_CLASSES[kind]
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


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


def build_trainer_args(
    kind: TrainerKind, layers: list[dict[str, Any]], output_dir: str, **fixed: Any
) -> Any:
    """Merge config layers (later wins), keep the keys this trainer knows, build its config."""
    fields = _field_types(kind)
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update({k: v for k, v in layer.items() if k in fields})
    merged.update(fixed)
    return CONFIG_CLASSES[kind](output_dir=output_dir, **merged)
