"""``math_code_rl`` (report stage 3): math with answers, code with tests, auxiliary code tasks
and Markovian-RSA round-1 aggregation prompts, in the report's phase-1 mix (Table VI):
standard code 20.3%, auxiliary code 33.4%, standard math 33.8%, math TTC/RSA 12.5%.

The shipped RSA candidates are a small sample; for on-policy candidates write a file with
``cascade rsa-rollouts <checkpoint>`` and set ``options.rollouts_path`` in the stage's envs.
"""

from envs.shipped import data_file
from stages.base import VERIFIABLE_RL_DEFAULTS, StageKind, register_stage

AUX_CODE = ["code/predict_output", "code/predict_input", "code/spec_to_code", "code/break_solution"]

KIND = register_stage(
    StageKind(
        name="math_code_rl",
        trainer="grpo",
        description="math (answer equivalence) + code (sandboxed tests) + aux code + RSA prompts (report stage 3)",
        envs=[
            {"id": "data/math", "weight": 0.338, "options": {"path": str(data_file("math", "competition_sample.jsonl"))}},
            {"id": "code/problems", "weight": 0.203},
            *({"id": env_id, "weight": 0.334 / len(AUX_CODE)} for env_id in AUX_CODE),
            {"id": "rsa/aggregate", "weight": 0.125},
        ],
        trainer_defaults={**VERIFIABLE_RL_DEFAULTS, "length_bonus_c": 1.0, "learning_rate": 5e-6},
        eval={"train_envs": True, "n_tasks": 16, "max_new_tokens": 4096},
    )
)
