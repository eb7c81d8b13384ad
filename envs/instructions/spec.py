"""One sampleable constraint: how to draw valid kwargs, phrase it, and (maybe) satisfy it.

The catalogue lives in ``envs`` (not ``verifiers``) because it is about *posing*
constraints; the checkers that *judge* them are reached only through the verifier name a
Task carries. Tests check that every sampled kwargs dict is accepted by the verifier.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Kwargs = dict[str, Any]

WORDS = (
    "river", "lantern", "garden", "window", "planet", "music", "coffee", "mountain", "history",
    "bridge", "journey", "silver", "forest", "letter", "morning", "harbor", "puzzle", "candle",
    "meadow", "signal", "compass", "orchard", "thunder", "velvet", "island", "pepper", "ribbon",
)
END_PHRASES = (
    "Let me know if you have more questions.", "Hope this helps.",
    "That is all for now.", "Thank you for reading.", "Have a wonderful day.",
)


def pick_words(rng: random.Random, k: int) -> list[str]:
    return rng.sample(WORDS, k)


@dataclass(frozen=True)
class ConstraintSpec:
    """A constraint id with a kwarg sampler, natural phrasings and an optional draft editor.

    ``groups``: constraints sharing a group are never attached to the same prompt (they
    contradict each other or make the prompt unreasonable). ``apply`` edits a draft so it
    follows the constraint; ``stage`` orders those edits (content, then case, then endings).
    ``easy``: a tiny model can plausibly follow it (used by the tiny CI stage).
    ``sample(rng, base_prompt)`` gets the prompt for constraints that quote it.
    """

    instruction_id: str
    sample: Callable[[random.Random, str], Kwargs]
    phrase: Callable[[Kwargs], str]
    groups: frozenset[str] = field(default_factory=frozenset)
    apply: Callable[[str, Kwargs], str] | None = None
    stage: float = 0
    easy: bool = False

    family: str = "ifeval"


def spec(
    instruction_id: str,
    phrase: Callable[[Kwargs], str] | str,
    sample: Callable[[random.Random, str], Kwargs] | None = None,
    groups: str = "",
    apply: Callable[[str, Kwargs], str] | None = None,
    stage: float = 0,
    easy: bool = False,
    family: str = "ifeval",
) -> ConstraintSpec:
    """Short constructor used by the catalogue tables."""
    text = phrase
    return ConstraintSpec(
        instruction_id=instruction_id,
        sample=sample or (lambda rng, prompt: {}),
        phrase=(lambda kw: text) if isinstance(text, str) else text,
        groups=frozenset(groups.split()),
        apply=apply,
        stage=stage,
        easy=easy,
        family=family,
    )
