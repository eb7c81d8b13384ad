"""``math_code_rl`` (report stage 3): math with answers, code with tests, auxiliary code tasks."""

from stages import VERIFIABLE_RL_DEFAULTS, StageKind, register_stage

KIND = register_stage(
    StageKind(
        name="math_code_rl",
        trainer="grpo",
        description="math (answer equivalence) + code (sandboxed tests) (report stage 3)",
        envs=[
            {"id": "data/math", "weight": 0.5, "options": {"path": "data/math/competition_sample.jsonl"}},
            {"id": "code/problems", "weight": 0.3},
            {"id": "code/predict_output", "weight": 0.2},
        ],
        trainer_defaults={**VERIFIABLE_RL_DEFAULTS, "length_bonus_c": 1.0, "learning_rate": 5e-6},
    )
)
