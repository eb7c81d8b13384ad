"""``rlve_curriculum`` (report stage 2): the RLVE-Gym environments with adaptive difficulty."""

from stages.base import VERIFIABLE_RL_DEFAULTS, StageKind, register_stage

KIND = register_stage(
    StageKind(
        name="rlve_curriculum",
        trainer="grpo",
        description="RLVE-Gym environments, difficulty adapted per environment (report stage 2)",
        envs=[{"id": "rlve/Multiplication"}, {"id": "rlve/Division"}],
        curriculum={"kind": "zaya"},
        trainer_defaults={**VERIFIABLE_RL_DEFAULTS, "length_bonus_c": 0.5, "learning_rate": 5e-6},
        eval={"train_envs": True, "difficulties": [0, 3], "n_tasks": 16, "max_new_tokens": 2048},
    )
)
