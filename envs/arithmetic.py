"""Small-number arithmetic: the simplest verifiable environment.

It is what the tiny CI policy can actually learn on a CPU, so the SFT bootstrap and the
learning benchmark use it; difficulty widens the operand range.
"""

from __future__ import annotations

import operator
import random
import zlib
from typing import Any

from envs.base import Environment, register_env
from envs.task import Task

ANSWER_INSTRUCTION = "Put your final answer within <answer> </answer> tags."
_OPS = {"add": ("+", operator.add), "sub": ("-", operator.sub), "mul": ("*", operator.mul)}


class ArithmeticEnv(Environment):
    """``a OP b`` with operands in ``[0, max_value * (difficulty + 1)]``.

    ``split`` partitions the problems (by a hash of the operands) into ``train`` and a
    ``test`` share of ``test_fraction``, so an evaluation can use problems training never saw.
    """

    source = "builtin"
    max_difficulty = 10

    def __init__(self, op: str = "add", max_value: int = 9, split: str = "all", test_fraction: float = 0.2) -> None:
        if op not in _OPS:
            raise ValueError(f"unknown op {op!r} (known: {', '.join(_OPS)})")
        if max_value < 1:
            raise ValueError("max_value must be >= 1")
        if split not in ("all", "train", "test"):
            raise ValueError(f"split must be all, train or test, not {split!r}")
        if not 0.0 < test_fraction < 1.0:
            raise ValueError("test_fraction must be in (0, 1)")
        self.op, self.max_value, self.split, self.test_fraction = op, max_value, split, test_fraction
        self.env_id = f"arith/{op}"

    def in_split(self, a: int, b: int) -> bool:
        if self.split == "all":
            return True
        is_test = zlib.crc32(f"{self.op}:{a}:{b}".encode()) % 10_000 < self.test_fraction * 10_000
        return is_test == (self.split == "test")

    def sample(self, seed: int, difficulty: int = 0) -> Task:
        difficulty = self.clamp(difficulty)
        rng = random.Random(f"{self.env_id}:{seed}:{difficulty}")
        hi = self.max_value * (difficulty + 1)
        a, b = rng.randint(0, hi), rng.randint(0, hi)
        while not self.in_split(a, b):  # rejection keeps the draw deterministic in (seed, difficulty)
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
    def make(max_value: int = 9, split: str = "all", test_fraction: float = 0.2) -> ArithmeticEnv:
        return ArithmeticEnv(op=op, max_value=max_value, split=split, test_fraction=test_fraction)

    return make


for _op, (_sym, _) in _OPS.items():
    register_env(f"arith/{_op}", source="builtin", max_difficulty=10, description=f"a {_sym} b, small numbers")(
        _factory(_op)
    )
