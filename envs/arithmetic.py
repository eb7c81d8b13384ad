"""Small-number arithmetic: the simplest verifiable environment.

It is what the tiny CI policy can actually learn on a CPU, so the SFT bootstrap and the
learning benchmark use it; difficulty widens the operand range.
"""

from __future__ import annotations

import operator
import random
from typing import Any

from envs.base import Environment, register_env
from envs.task import Task

ANSWER_INSTRUCTION = "Put your final answer within <answer> </answer> tags."
_OPS = {"add": ("+", operator.add), "sub": ("-", operator.sub), "mul": ("*", operator.mul)}


class ArithmeticEnv(Environment):
    """``a OP b`` with operands in ``[0, max_value * (difficulty + 1)]``."""

    source = "builtin"
    max_difficulty = 10

    def __init__(self, op: str = "add", max_value: int = 9) -> None:
        if op not in _OPS:
            raise ValueError(f"unknown op {op!r} (known: {', '.join(_OPS)})")
        if max_value < 1:
            raise ValueError("max_value must be >= 1")
        self.op, self.max_value = op, max_value
        self.env_id = f"arith/{op}"

    def sample(self, seed: int, difficulty: int = 0) -> Task:
        difficulty = self.clamp(difficulty)
        rng = random.Random(f"{self.env_id}:{seed}:{difficulty}")
        hi = self.max_value * (difficulty + 1)
        a, b = rng.randint(0, hi), rng.randint(0, hi)
        symbol, fn = _OPS[self.op]
        answer = str(fn(a, b))
        return Task(
            prompt=[{"role": "user", "content": f"What is {a} {symbol} {b}? {ANSWER_INSTRUCTION}"}],
            verifier="exact",
            payload={"answer": answer},
            env_id=self.env_id,
            difficulty=difficulty,
            seed=seed,
            reference=f"<answer>{answer}</answer>",
        )


def _factory(op: str) -> Any:
    def make(**options: Any) -> ArithmeticEnv:
        return ArithmeticEnv(op=op, **options)

    return make


for _op, (_sym, _) in _OPS.items():
    register_env(f"arith/{_op}", source="builtin", max_difficulty=10, description=f"a {_sym} b, small numbers")(
        _factory(_op)
    )
