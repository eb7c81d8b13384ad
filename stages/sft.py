"""``sft``: supervised bootstrap on the gold completions the environments generate.

It gives a freshly built tiny policy the answer format, so later RL sees reward above zero.
"""

from stages.base import StageKind, register_stage

KIND = register_stage(
    StageKind(
        name="sft",
        trainer="sft",
        description="SFTTrainer on environment reference completions (format bootstrap)",
        envs=[{"id": "arith/add", "options": {"max_value": 20}}],
        rewards=[],
        trainer_defaults={"completion_only_loss": True},
    )
)
