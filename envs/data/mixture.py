"""Weighted mixtures of environments (e.g. the report's 54/31/14 stage-1 split)."""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import math
from collections.abc import Sequence
from typing import Any

from envs.base import Environment, get_env, register_env
from envs.task import Task


class MixtureEnvironment(Environment):
    """Pick a child with probability proportional to its weight, deterministically per seed.

    The choice hashes ``(salt, seed)``, so it is reproducible across processes and
    independent of which rows each child would return; the child then samples with the
    same ``seed`` and ``difficulty``. The Task keeps the child's env_id.
    """

    source = "mixture"

    def __init__(self, children: Sequence[tuple[Environment, float]], salt: int | str = 0) -> None:
        if not children:
            raise ValueError("a mixture needs at least one child")
        weights = [float(w) for _, w in children]
        if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError(f"mixture weights must be finite, >= 0 and not all 0: {weights}")
        self.children = [env for env, _ in children]
        self.weights = [w / sum(weights) for w in weights]
        self._cum = [sum(self.weights[: i + 1]) for i in range(len(self.weights))]
        self.salt = salt
        self.min_difficulty = min(c.min_difficulty for c in self.children)
        highs = [c.max_difficulty for c in self.children]
        self.max_difficulty = None if any(h is None for h in highs) else max(h for h in highs if h is not None)

    def pick(self, seed: int) -> int:
        """Index of the child that serves ``seed``."""
        digest = hashlib.blake2b(f"{self.salt}:{seed}".encode(), digest_size=8).digest()
        u = int.from_bytes(digest, "big") / 2**64
        return min(bisect.bisect_right(self._cum, u), len(self.children) - 1)

    def sample(self, seed: int, difficulty: int = 0) -> Task:
        i = self.pick(seed)
        task = self.children[i].sample(seed, difficulty)
        return dataclasses.replace(task, meta={**task.meta, "mixture": self.env_id or "mixture", "mixture_child": i})


def mixture(children: Sequence[tuple[Environment, float]], salt: int | str = 0) -> MixtureEnvironment:
    """``mixture([(env, 0.54), (env2, 0.31), (env3, 0.14)])``: weights need not sum to 1."""
    return MixtureEnvironment(children, salt)


@register_env("data/mixture", source="mixture", description="weighted mixture of other environments")
def make_mixture(children: Sequence[dict[str, Any]], salt: int | str = 0) -> MixtureEnvironment:
    """YAML form: ``children: [{env: data/math, weight: 0.31, options: {...}}, ...]``."""
    built = []
    for spec in children:
        if "env" not in spec or "weight" not in spec:
            raise ValueError(f"each mixture child needs 'env' and 'weight': {spec}")
        built.append((get_env(spec["env"], **dict(spec.get("options") or {})), spec["weight"]))
    return MixtureEnvironment(built, salt)


def _check_children(options: dict[str, Any]) -> list[tuple[str, str]]:
    """Config-load check of each child's env id and options (the mixture's own are bound already)."""
    from envs.base import ENVS, PROVIDERS

    problems: list[tuple[str, str]] = []
    children = options.get("children")
    for i, child in enumerate(children if isinstance(children, list) else []):
        if not isinstance(child, dict) or "env" not in child or "weight" not in child:
            problems.append((f"children[{i}]", "each mixture child needs 'env' and 'weight'"))
            continue
        env_id = str(child["env"])
        if env_id not in ENVS and env_id.split("/", 1)[0] not in PROVIDERS:
            problems.append((f"children[{i}].env", f"unknown environment {env_id!r}"))
    return problems


make_mixture.check_options = _check_children  # type: ignore[attr-defined]
