"""Per-environment difficulty controllers: RLVE's promotion window and ZAYA1's up/down rule.

A controller owns one small state record per environment and sees each group of rollouts
as a list of pass/fail values at the difficulty that group was sampled at. States are plain
dicts of ints/floats, so ``state_dict()`` is JSON as is.
"""

from __future__ import annotations

import inspect
import random
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from envs.registry import Registry

Bounds = tuple[int, int | None]


class DifficultyController(ABC):
    """Chooses a difficulty per environment and moves it from group outcomes."""

    name = ""

    def __init__(self, initial_difficulty: int = 0, bounds: dict[str, Bounds] | None = None) -> None:
        self.initial_difficulty = int(initial_difficulty)
        self.bounds: dict[str, Bounds] = dict(bounds or {})
        self.states: dict[str, dict[str, Any]] = {}

    def clamp(self, env_id: str, difficulty: int) -> int:
        lo, hi = self.bounds.get(env_id, (0, None))
        d = max(lo, int(difficulty))
        return d if hi is None else min(d, hi)

    def state(self, env_id: str) -> dict[str, Any]:
        if env_id not in self.states:
            self.states[env_id] = self._new_state(self.clamp(env_id, self.initial_difficulty))
        return self.states[env_id]

    @abstractmethod
    def _new_state(self, difficulty: int) -> dict[str, Any]: ...

    @abstractmethod
    def difficulty(self, env_id: str) -> int:
        """The environment's current difficulty (RLVE: the window's upper bound h)."""

    @abstractmethod
    def set_difficulty(self, env_id: str, difficulty: int) -> None:
        """Place an environment (used by calibration)."""

    @abstractmethod
    def sample_difficulty(self, env_id: str, rng: random.Random) -> int: ...

    @abstractmethod
    def update(self, env_id: str, difficulty: int, passed: Sequence[bool]) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {"name": self.name, "states": {k: dict(v) for k, v in self.states.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("name", self.name) != self.name:
            raise ValueError(f"state is for controller {state.get('name')!r}, not {self.name!r}")
        self.states = {k: dict(v) for k, v in state["states"].items()}


class RLVEController(DifficultyController):
    """RLVE's rule: sample d uniformly from (h - window, h]; promote h after enough passes at h.

    Only rollouts at d == h count. Once ``min_samples`` of them are in, h += 1 if their
    accuracy >= ``promote_accuracy``; the counters reset after every check; h never drops.
    """

    name = "rlve"

    def __init__(
        self,
        initial_difficulty: int = 0,
        bounds: dict[str, Bounds] | None = None,
        window: int = 4,
        min_samples: int | None = None,
        group_size: int = 16,
        prompts_per_check: int = 8,
        promote_accuracy: float = 0.9,
    ) -> None:
        super().__init__(initial_difficulty, bounds)
        if window < 1:
            raise ValueError("window must be >= 1")
        self.window = int(window)
        self.min_samples = int(min_samples if min_samples is not None else prompts_per_check * group_size)
        self.promote_accuracy = float(promote_accuracy)

    def _new_state(self, difficulty: int) -> dict[str, Any]:
        return {"h": difficulty, "n": 0, "correct": 0}

    def difficulty(self, env_id: str) -> int:
        return int(self.state(env_id)["h"])

    def set_difficulty(self, env_id: str, difficulty: int) -> None:
        self.states[env_id] = self._new_state(self.clamp(env_id, difficulty))

    def window_range(self, env_id: str) -> tuple[int, int]:
        h = self.difficulty(env_id)
        lo = max(self.bounds.get(env_id, (0, None))[0], h - self.window + 1)
        return lo, h

    def sample_difficulty(self, env_id: str, rng: random.Random) -> int:
        lo, hi = self.window_range(env_id)
        return rng.randint(lo, hi)

    def update(self, env_id: str, difficulty: int, passed: Sequence[bool]) -> None:
        st = self.state(env_id)
        if int(difficulty) != st["h"] or not passed:
            return
        st["n"] += len(passed)
        st["correct"] += sum(bool(p) for p in passed)
        if st["n"] < self.min_samples:
            return
        if st["correct"] / st["n"] >= self.promote_accuracy:
            st["h"] = self.clamp(env_id, st["h"] + 1)
        st["n"] = st["correct"] = 0


class ZayaController(DifficultyController):
    """ZAYA1's rule: per group at the current d, d += 1 if pass rate > ``up``; d -= 1 if it is 0."""

    name = "zaya"

    def __init__(
        self,
        initial_difficulty: int = 0,
        bounds: dict[str, Bounds] | None = None,
        promote_pass_rate: float = 0.7,
        demote_pass_rate: float = 0.0,
    ) -> None:
        super().__init__(initial_difficulty, bounds)
        self.promote_pass_rate = float(promote_pass_rate)
        self.demote_pass_rate = float(demote_pass_rate)

    def _new_state(self, difficulty: int) -> dict[str, Any]:
        return {"d": difficulty}

    def difficulty(self, env_id: str) -> int:
        return int(self.state(env_id)["d"])

    def set_difficulty(self, env_id: str, difficulty: int) -> None:
        self.states[env_id] = self._new_state(self.clamp(env_id, difficulty))

    def sample_difficulty(self, env_id: str, rng: random.Random) -> int:
        return self.difficulty(env_id)

    def update(self, env_id: str, difficulty: int, passed: Sequence[bool]) -> None:
        st = self.state(env_id)
        if int(difficulty) != st["d"] or not passed:
            return  # a stale group drawn before the last move
        rate = sum(bool(p) for p in passed) / len(passed)
        if rate > self.promote_pass_rate:
            st["d"] = self.clamp(env_id, st["d"] + 1)
        elif rate <= self.demote_pass_rate:
            st["d"] = self.clamp(env_id, st["d"] - 1)


CONTROLLERS: Registry[type[DifficultyController]] = Registry("curriculum controller")
for _cls in (RLVEController, ZayaController):
    CONTROLLERS.add(_cls.name, _cls)


def register_controller(cls: type[DifficultyController]) -> type[DifficultyController]:
    """Class decorator: register a controller under its ``name`` (a repeated name is an error)."""
    return CONTROLLERS.add(cls.name, cls)


def controller_options(kind: str) -> tuple[str, ...]:
    """The controller's own constructor options (besides ``initial_difficulty`` and ``bounds``)."""
    params = inspect.signature(CONTROLLERS.get(kind)).parameters
    return tuple(p for p in params if p not in ("initial_difficulty", "bounds"))
