"""``behavioral_rl`` (report stage 4): chat and instruction following.

Plain GRPO with std normalisation and no length reward, at the cascade's smallest LR.
"""

from stages import StageKind, register_stage

KIND = register_stage(
    StageKind(
        name="behavioral_rl",
        trainer="grpo",
        description="instruction following scored by constraint checkers (report stage 4)",
        envs=[{"id": "if/simple", "weight": 0.6}, {"id": "if/hard", "weight": 0.4}],
        trainer_defaults={"loss_type": "grpo", "scale_rewards": "group", "beta": 0.0, "learning_rate": 2e-6},
    )
)
