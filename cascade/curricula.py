"""Builds a stage's curriculum from its YAML section (``fixed`` means none: the stream's weights)."""

from __future__ import annotations

from typing import Any

from cascade.config import CurriculumSpec, StageConfig
from stages import StageKind


def build_curriculum(stage: StageConfig, kind: StageKind, env_ids: list[str]) -> Any | None:
    spec = stage.curriculum or CurriculumSpec(**kind.curriculum)
    if spec.kind == "fixed":
        return None
    from envs.curriculum import make_curriculum

    return make_curriculum(spec.kind, env_ids, **spec.options)
