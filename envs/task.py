"""The Task: one prompt plus everything needed to judge it, as plain data."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

Prompt = str | list[dict[str, str]]


@dataclass(frozen=True)
class Task:
    """One prompt with its judge.

    Tasks cross Ray process boundaries and are stored in run directories, so every
    field is JSON data. ``reference`` is a gold completion (used by the SFT bootstrap);
    it is optional because many sources only know the answer, not a worked solution.
    """

    prompt: Prompt
    verifier: str
    payload: dict[str, Any]
    env_id: str
    difficulty: int = 0
    seed: int = 0
    reference: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Task":
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def prompt_text(self) -> str:
        """The prompt as one string (the last user message for chat prompts)."""
        if isinstance(self.prompt, str):
            return self.prompt
        users = [m["content"] for m in self.prompt if m.get("role") == "user"]
        return users[-1] if users else ""
