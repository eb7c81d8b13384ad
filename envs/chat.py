"""``chat/prompts``: plain chat prompts with nothing to check, for reward-model-scored RL.

The behavioral stage's chat phase (report stage 4) is judged by a reward model alone, so
these Tasks carry the "none" verifier (always passes). Prompts come from a JSONL file
(``path``, rows with "prompt", "text" or chat "messages"; default: the shipped
``data/chat_prompts.jsonl``), drawn uniformly and deterministically per seed.
"""

from __future__ import annotations

import random

from envs.base import Environment, register_env
from envs.instructions.env import SHIPPED_PROMPTS, load_prompts
from envs.task import Task


@register_env("chat/prompts", source="chat", description="plain chat prompts, no checker (options: path)")
class ChatPromptsEnv(Environment):
    """One user turn per Task; the reward model decides what a good answer is."""

    def __init__(self, path: str | None = None) -> None:
        self.prompts = load_prompts(path or SHIPPED_PROMPTS)
        self.max_difficulty = 0

    def sample(self, seed: int, difficulty: int = 0) -> Task:
        text = self.prompts[random.Random(f"{self.env_id}|{seed}").randrange(len(self.prompts))]
        return Task(
            prompt=[{"role": "user", "content": text}],
            verifier="none",
            payload={"prompt": text},
            env_id=self.env_id,
            difficulty=0,
            seed=seed,
        )
