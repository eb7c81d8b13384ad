"""Instruction-following environments: chat prompts with verifiable constraints attached.

``if/simple``: 1-3 IFEval constraints per prompt. ``if/hard``: 3-5 constraints, at least
``min_rare`` of them from IFBench's out-of-distribution set. Both draw prompts from a JSONL
file (``path``; default: the prompts shipped in ``data/chat_prompts.jsonl``), phrase the
constraints naturally after the prompt, and judge with the "instructions" verifier.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from envs.shipped import data_file
from envs.base import Environment, register_env
from envs.instructions.catalogue_ifbench import IFBENCH_SPECS
from envs.instructions.catalogue_ifeval import IFEVAL_SPECS
from envs.instructions.spec import ConstraintSpec
from envs.task import Task

SHIPPED_PROMPTS = data_file("chat_prompts.jsonl")
CATALOGUE: dict[str, ConstraintSpec] = {s.instruction_id: s for s in (*IFEVAL_SPECS, *IFBENCH_SPECS)}
EASY_IDS: tuple[str, ...] = tuple(s.instruction_id for s in IFEVAL_SPECS if s.easy)
POOLS: dict[str, tuple[str, ...]] = {
    "easy": EASY_IDS,
    "ifeval": tuple(s.instruction_id for s in IFEVAL_SPECS),
    "ifbench": tuple(s.instruction_id for s in IFBENCH_SPECS),
    "all": tuple(CATALOGUE),
}
DRAFT = (
    "Here is a short and simple answer to your request. Thank you for the interesting question and "
    "for taking the time to read this reply. We hope that the answer is clear and useful to you."
)


def load_prompts(path: str | Path) -> list[str]:
    """Prompts from JSONL rows with "prompt", "text" or chat "messages" (last user turn)."""
    prompts = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        text = row.get("prompt") or row.get("text") if isinstance(row, dict) else None
        if text is None and isinstance(row, dict) and isinstance(row.get("messages"), list):
            users = [m.get("content") for m in row["messages"] if isinstance(m, dict) and m.get("role") == "user"]
            text = users[-1] if users else None
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{path}:{number}: no prompt text (expected 'prompt', 'text' or 'messages')")
        prompts.append(text.strip())
    if not prompts:
        raise ValueError(f"{path}: no prompts")
    return prompts


def resolve_pool(instruction_ids: str | list[str] | tuple[str, ...] | None, default: str) -> tuple[str, ...]:
    """A pool name ("easy", "ifeval", "ifbench", "all") or an explicit list of ids."""
    chosen = instruction_ids if instruction_ids is not None else default
    if isinstance(chosen, str):
        if chosen not in POOLS:
            raise ValueError(f"unknown constraint pool {chosen!r}; use one of {sorted(POOLS)} or a list of ids")
        return POOLS[chosen]
    unknown = sorted(set(chosen) - set(CATALOGUE))
    if unknown:
        raise ValueError(f"no sampleable constraint for id(s) {unknown}; known: {sorted(CATALOGUE)}")
    if not chosen:
        raise ValueError("instruction_ids is empty")
    return tuple(dict.fromkeys(chosen))


def compose_reference(specs: list[ConstraintSpec], kwargs: list[dict[str, Any]], draft: str = DRAFT) -> str | None:
    """A completion that follows every constraint, when each one knows how to edit ``draft``."""
    if any(s.apply is None for s in specs):
        return None
    text = draft
    for s, kw in sorted(zip(specs, kwargs), key=lambda pair: pair[0].stage):
        text = s.apply(text, kw)
    return text


class InstructionEnv(Environment):
    """Deterministic prompt + constraints sampler (see the module docstring)."""

    def __init__(
        self,
        path: str | None = None,
        min_constraints: int = 1,
        max_constraints: int = 3,
        instruction_ids: str | list[str] | None = None,
        min_rare: int = 0,
        pool: str = "ifeval",
        draft: str = DRAFT,
    ) -> None:
        """``draft``: the text SFT references start from; a short one fits a tiny policy's completion budget.

        Keep it plain English: IFEval's lowercase check also asks langdetect for "en", which
        misreads some short texts ("sure here it is. [detail 1]" is not English to it).
        """
        if not 1 <= int(min_constraints) <= int(max_constraints):
            raise ValueError("need 1 <= min_constraints <= max_constraints")
        if not draft.strip():
            raise ValueError("draft is empty")
        self.draft = draft
        self.prompts = load_prompts(path or SHIPPED_PROMPTS)
        self.pool = resolve_pool(instruction_ids, pool)
        self.min_constraints, self.max_constraints = int(min_constraints), int(max_constraints)
        self.min_rare = int(min_rare) if instruction_ids is None else 0
        self.max_difficulty = self.max_constraints - self.min_constraints

    def _pick(self, rng: random.Random, count: int) -> list[ConstraintSpec]:
        order = list(self.pool)
        rng.shuffle(order)
        rare = [i for i in order if CATALOGUE[i].family == "ifbench"]
        chosen: list[ConstraintSpec] = []
        # first the required out-of-distribution ones, then anything, never two that conflict
        for candidates, target in ((rare, min(self.min_rare, count)), (order, count)):
            for instruction_id in candidates:
                if len(chosen) >= target:
                    break
                candidate = CATALOGUE[instruction_id]
                if candidate not in chosen and all(not candidate.groups & c.groups for c in chosen):
                    chosen.append(candidate)
        return chosen

    def sample(self, seed: int, difficulty: int = 0) -> Task:
        difficulty = self.clamp(difficulty)
        rng = random.Random(f"{self.env_id}|{seed}|{difficulty}")
        base = self.prompts[rng.randrange(len(self.prompts))]
        count = rng.randint(min(self.min_constraints + difficulty, self.max_constraints), self.max_constraints)
        specs = self._pick(rng, count)
        kwargs = [s.sample(rng, base) for s in specs]
        text = base + "\n\n" + " ".join(s.phrase(kw) for s, kw in zip(specs, kwargs))
        payload = {"instruction_id_list": [s.instruction_id for s in specs], "kwargs": kwargs, "prompt": text}
        return Task(
            prompt=[{"role": "user", "content": text}],
            verifier="instructions",
            payload=payload,
            env_id=self.env_id,
            difficulty=difficulty,
            seed=seed,
            reference=compose_reference(specs, kwargs, self.draft),
            meta={"base_prompt": base},
        )


@register_env("if/simple", source="instructions", max_difficulty=2,
              description="chat prompts with 1-3 IFEval constraints (options: path, instruction_ids, ...)",
              options_from=InstructionEnv)
def simple_env(**options: Any) -> InstructionEnv:
    options = {"min_constraints": 1, "max_constraints": 3, "pool": "ifeval", **options}
    return InstructionEnv(**options)


@register_env("if/hard", source="instructions", max_difficulty=2,
              description="IFBench-like: 3-5 constraints, at least 2 out-of-distribution (IFBench) ones",
              options_from=InstructionEnv)
def hard_env(**options: Any) -> InstructionEnv:
    options = {"min_constraints": 3, "max_constraints": 5, "pool": "all", "min_rare": 2, **options}
    return InstructionEnv(**options)
