"""Builds a stage's curriculum from its YAML section (``fixed`` means none: the stream's weights)."""

from __future__ import annotations

from typing import Any

from cascade.config import CurriculumSpec, StageConfig
from stages import StageKind


def build_curriculum(stage: StageConfig, kind: StageKind) -> Any | None:
    spec = stage.curriculum or CurriculumSpec(**kind.curriculum)
    if spec.kind == "fixed":
        return None
    from envs.curriculum import make_curriculum

    env_specs = stage.envs if stage.envs is not None else kind.envs
    env_ids = [e.id if hasattr(e, "id") else e["id"] for e in env_specs]
    return make_curriculum(spec.kind, env_ids, **spec.options)
