"""The one object a trainer uses: which (env, difficulty, seed) next, and learn from groups.

``make_curriculum(kind, env_ids, **options)`` builds it from a stage's YAML section, e.g.
``{kind: zaya, options: {sampling: least_sampled, held_out: ["rlve/Sudoku"]}}``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from envs.curriculum.calibration import PassRateFn, calibrate
from envs.curriculum.controllers import CONTROLLERS, Bounds, DifficultyController, controller_options
from envs.curriculum.sampling import EnvSampler, select_env_ids


def _passed(value: Any, threshold: float) -> bool:
    """A rollout's pass: a bool, a Verdict-like ``.correct``, or a reward >= threshold."""
    if isinstance(value, bool):
        return value
    if hasattr(value, "correct"):
        return bool(value.correct)
    return float(value) >= threshold - 1e-9


def _raw(value: Any) -> float:
    if hasattr(value, "reward"):
        return float(value.reward)
    return float(value)


class Curriculum:
    """Environment sampling + a difficulty controller + the counters behind ``metrics()``."""

    def __init__(
        self,
        controller: DifficultyController,
        env_ids: Sequence[str],
        held_out: Sequence[str] = (),
        sampling: str = "uniform",
        least_sampled_power: float = 1.0,
        correct_threshold: float = 1.0,
        env_weights: dict[str, float] | None = None,
    ) -> None:
        self.controller = controller
        self.env_ids = list(env_ids)
        self.held_out = list(held_out)
        self.sampler = EnvSampler(self.env_ids, sampling, least_sampled_power, env_weights)
        self.correct_threshold = float(correct_threshold)
        self.stats: dict[str, dict[str, int]] = {}
        self.groups = 0
        self.zero_spread_groups = 0

    @property
    def eval_env_ids(self) -> list[str]:
        """Held-out environments: never drawn for training, kept for evaluation."""
        return list(self.held_out)

    def next_task_spec(self, rng_or_seed: random.Random | int) -> tuple[str, int, int]:
        """(env_id, difficulty, seed) for the next prompt."""
        rng = rng_or_seed if isinstance(rng_or_seed, random.Random) else random.Random(rng_or_seed)
        env_id = self.sampler.sample(rng)
        difficulty = self.controller.sample_difficulty(env_id, rng)
        return env_id, difficulty, rng.randrange(2**31)

    def update(self, env_id: str, difficulty: int, group: Sequence[Any]) -> None:
        """Feed one prompt's group of rollouts (bools, rewards or Verdicts) at ``difficulty``."""
        if env_id not in self.sampler.counts or not group:
            return
        passed = [_passed(v, self.correct_threshold) for v in group]
        self.controller.update(env_id, difficulty, passed)
        st = self.stats.setdefault(env_id, {"groups": 0, "rollouts": 0, "correct": 0})
        st["groups"] += 1
        st["rollouts"] += len(passed)
        st["correct"] += sum(passed)
        self.groups += 1
        self.zero_spread_groups += len({_raw(v) for v in group}) <= 1

    def calibrate(self, pass_rate: PassRateFn, **options: Any) -> dict[str, int]:
        """Place every training env near pass rate 0.5 (see ``calibration.calibrate``)."""
        placed = calibrate(self.env_ids, pass_rate, bounds=self.controller.bounds, **options)
        for env_id, d in placed.items():
            self.controller.set_difficulty(env_id, d)
        return placed

    def metrics(self) -> dict[str, float]:
        """Flat metrics: per env difficulty, accuracy and rollouts; share of zero-spread groups."""
        out: dict[str, float] = {}
        seen = [e for e in self.env_ids if self.sampler.counts[e] or e in self.stats]
        for env_id in seen:
            st = self.stats.get(env_id, {"rollouts": 0, "correct": 0})
            out[f"curriculum/{env_id}/difficulty"] = float(self.controller.difficulty(env_id))
            out[f"curriculum/{env_id}/samples"] = float(st["rollouts"])
            if st["rollouts"]:
                out[f"curriculum/{env_id}/accuracy"] = st["correct"] / st["rollouts"]
        if seen:
            out["curriculum/mean_difficulty"] = sum(self.controller.difficulty(e) for e in seen) / len(seen)
        out["curriculum/envs_seen"] = float(len(seen))
        out["curriculum/groups"] = float(self.groups)
        out["curriculum/zero_spread_fraction"] = self.zero_spread_groups / self.groups if self.groups else 0.0
        return out

    def state_dict(self) -> dict[str, Any]:
        return {
            "kind": self.controller.name,
            "controller": self.controller.state_dict(),
            "sampler": self.sampler.state_dict(),
            "stats": {k: dict(v) for k, v in self.stats.items()},
            "groups": self.groups,
            "zero_spread_groups": self.zero_spread_groups,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.controller.load_state_dict(state["controller"])
        self.sampler.load_state_dict(state.get("sampler", {}))
        self.stats = {k: {kk: int(vv) for kk, vv in v.items()} for k, v in state.get("stats", {}).items()}
        self.groups = int(state.get("groups", 0))
        self.zero_spread_groups = int(state.get("zero_spread_groups", 0))


def _registry_bounds(env_ids: Sequence[str]) -> dict[str, Bounds]:
    from envs.base import list_envs

    wanted = set(env_ids)
    return {i.env_id: (i.min_difficulty, i.max_difficulty) for i in list_envs() if i.env_id in wanted}


def make_curriculum(
    kind: str, env_ids: Sequence[str], env_weights: dict[str, float] | None = None, **options: Any
) -> Curriculum:
    """Build a curriculum by controller name ("rlve" or "zaya") from YAML options.

    ``env_weights`` (the stage's env ``weight``s, default 1) scale how often each env is drawn.

    Options: initial_difficulty, include, exclude, held_out (glob lists), sampling
    ("uniform" | "least_sampled"), least_sampled_power, correct_threshold, bounds
    ({env: [min, max]}; default from the registry) and the controller's own options.
    """
    if kind not in CONTROLLERS:
        raise ValueError(f"unknown curriculum {kind!r} (known: {', '.join(CONTROLLERS.names())})")
    opts = dict(options)
    train, held = select_env_ids(list(env_ids), opts.pop("include", None), opts.pop("exclude", None),
                                 opts.pop("held_out", None))
    bounds = opts.pop("bounds", None)
    bounds = {k: (int(v[0]), None if v[1] is None else int(v[1])) for k, v in bounds.items()} if bounds else None
    controller_kwargs = {k: opts.pop(k) for k in controller_options(kind) if k in opts}
    controller = CONTROLLERS.get(kind)(
        initial_difficulty=int(opts.pop("initial_difficulty", 0)),
        bounds=bounds if bounds is not None else _registry_bounds(train),
        **controller_kwargs,
    )
    curriculum = Curriculum(
        controller,
        train,
        held_out=held,
        sampling=opts.pop("sampling", opts.pop("env_sampling", "uniform")),
        least_sampled_power=float(opts.pop("least_sampled_power", 1.0)),
        correct_threshold=float(opts.pop("correct_threshold", 1.0)),
        env_weights=env_weights,
    )
    if opts:
        raise ValueError(f"unknown {kind} curriculum options: {', '.join(sorted(opts))}")
    return curriculum
