"""``math_code_rl`` (report stage 3): math with answers, code with tests, auxiliary code tasks
and Markovian-RSA round-1 aggregation prompts, in the report's phase-1 mix (Table VI):
standard code 20.3%, auxiliary code 33.4%, standard math 33.8%, math TTC/RSA 12.5%.

The shipped RSA candidates are a small sample (the offline default). For on-policy co-training give
the stage an ``rsa:`` block (``cascade/rsa_refresh.py``): the candidates are then resampled from the
current policy every ``refresh_every`` steps, N rollouts per problem, C per aggregation prompt, tau
tail tokens::

    rsa: {refresh_every: 16, n: 16, c: 4, tau: 1024, budget: 8192, num_problems: 16, envs: [data/math]}

(A fixed file from one checkpoint, ``cascade rsa-rollouts``, still works via ``options.rollouts_path``.)
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
