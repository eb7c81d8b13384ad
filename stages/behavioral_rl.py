"""``behavioral_rl`` (report stage 4): chat and instruction following.

Plain GRPO with std normalisation and no length reward, at the cascade's smallest LR.
The report's three sub-phases (RM-scored chat, simple IF, hard IF) are three stages of this
kind in the YAML, each with its env mix and ``rewards: [{name: reward_model, options: {path,
gate: task, normalize: sigmoid}}]`` (see configs/zaya1-8b.yaml). The default reward stays the
checkers alone, because a reward model is a checkpoint the config has to name. The eval is
scored by the checkers (pass@1) and, when the stage's rewards name a reward model, by that
model too (``rm_score``, cascade/stage_eval.py).
"""

from stages.base import StageKind, register_stage

KIND = register_stage(
    StageKind(
        name="behavioral_rl",
        trainer="grpo",
        description="chat and instruction following: reward model gated by constraint checkers (report stage 4)",
        envs=[{"id": "if/simple", "weight": 0.6}, {"id": "if/hard", "weight": 0.4}],
        trainer_defaults={"loss_type": "grpo", "scale_rewards": "group", "beta": 0.0, "learning_rate": 2e-6},
        eval={"train_envs": True, "n_tasks": 32, "max_new_tokens": 2048},
    )
)
