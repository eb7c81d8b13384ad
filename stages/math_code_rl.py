"""``math_code_rl`` (report stage 3): math with answers, code with tests, auxiliary code tasks."""

from envs.rsa import DEFAULT_ROLLOUTS
from stages import VERIFIABLE_RL_DEFAULTS, StageKind, register_stage

# RSA round-1 aggregation prompts co-trained with the normal verifiable reward (report §VI-B).
# The shipped candidates are a small sample; for on-policy candidates write a file with
# `cascade rsa-rollouts <checkpoint>` and set options.rollouts_path in the stage's envs.
RSA_ENVS = [{"id": "rsa/aggregate", "weight": 0.1}] if DEFAULT_ROLLOUTS.is_file() else []

KIND = register_stage(
    StageKind(
        name="math_code_rl",
        trainer="grpo",
        description="math (answer equivalence) + code (sandboxed tests) (report stage 3)",
        envs=[
            {"id": "data/math", "weight": 0.5, "options": {"path": "data/math/competition_sample.jsonl"}},
            {"id": "code/problems", "weight": 0.3},
            {"id": "code/predict_output", "weight": 0.2},
            *RSA_ENVS,
        ],
        trainer_defaults={**VERIFIABLE_RL_DEFAULTS, "length_bonus_c": 1.0, "learning_rate": 5e-6},
    )
)
