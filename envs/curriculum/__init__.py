"""Curricula: which environment and difficulty come next, learned from rollout verdicts."""

from envs.curriculum.calibration import LogisticPosterior, calibrate
from envs.curriculum.controllers import (
    CONTROLLERS,
    DifficultyController,
    RLVEController,
    ZayaController,
    register_controller,
)
from envs.curriculum.curriculum import Curriculum, make_curriculum
from envs.curriculum.sampling import EnvSampler, select_env_ids

__all__ = [
    "CONTROLLERS",
    "Curriculum",
    "DifficultyController",
    "EnvSampler",
    "LogisticPosterior",
    "RLVEController",
    "ZayaController",
    "calibrate",
    "make_curriculum",
    "register_controller",
    "select_env_ids",
]
