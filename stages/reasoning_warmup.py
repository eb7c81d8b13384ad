"""``reasoning_warmup`` (report stage 1): hard math plus puzzles, scored by their own verifiers.

The report's mix was ~54% reasoning-gym-style puzzles, ~31% competition math and ~14%
Enigmata-style puzzles, with prompts the incoming policy solves > 75% of the time dropped.
The length bonus ramps over the cascade (report: "small" here, 1.0 in stage 3); the
per-stage c values are our choice, as the report gives only the end point.
"""

from envs.shipped import data_file
from stages.base import VERIFIABLE_RL_DEFAULTS, StageKind, register_stage

KIND = register_stage(
    StageKind(
        name="reasoning_warmup",
        trainer="grpo",
        description="math + reasoning-gym puzzles, pass-rate filtered (report stage 1)",
        envs=[
            {"id": "rg/basic_arithmetic", "weight": 0.54},
            {"id": "data/math", "weight": 0.31, "options": {"path": str(data_file("math", "competition_sample.jsonl"))}},
            {"id": "rg/propositional_logic", "weight": 0.15},
        ],
        trainer_defaults={**VERIFIABLE_RL_DEFAULTS, "length_bonus_c": 0.25, "learning_rate": 5e-6},
        eval={"train_envs": True, "n_tasks": 32, "max_new_tokens": 2048},
    )
)
