"""The task stream a stage trains on: environments + curriculum -> an endless flow of Tasks.

The stream is what TRL sees as its (iterable) train dataset, so adaptive difficulty works
through TRL's own data path: the reward function reports verdicts back with ``observe``,
and the next prompts drawn already follow the updated curriculum.
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from collections.abc import Iterator
from typing import Any, Protocol

from cascade.config import EnvSpec
from envs import Environment, Task, get_env
from envs.base import match_env_ids
from verifiers import Verdict

log = logging.getLogger(__name__)
MAX_SAMPLE_TRIES = 20
MAX_HELDOUT_REJECTS = 1000  # consecutive held-out draws before the stream gives up


class Curriculum(Protocol):
    """What the stream needs from an adaptive curriculum (see ``envs.curriculum``)."""

    def next_task_spec(self, rng: random.Random) -> tuple[str, int, int]: ...
    def update(self, env_id: str, difficulty: int, rewards: list[float]) -> None: ...
    def metrics(self) -> dict[str, float]: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def expand_env_specs(specs: list[EnvSpec]) -> list[EnvSpec]:
    """Expand glob ids (``rlve/*``) into one spec per registered env, sharing the weight."""
    out: list[EnvSpec] = []
    for spec in specs:
        ids = match_env_ids(spec.id)
        if ids == [spec.id]:
            out.append(spec)
            continue
        if not ids:  # config load reports this first (cascade.config_checks); kept for direct callers
            raise ValueError(f"env pattern {spec.id!r} matches no registered environment")
        out += [spec.model_copy(update={"id": i, "weight": spec.weight / len(ids)}) for i in ids]
    return out


def as_chat(prompt: str | list[dict[str, str]]) -> list[dict[str, str]]:
    """Every prompt becomes chat messages, so the train dataset has one schema."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return [{"role": str(m["role"]), "content": str(m["content"])} for m in prompt]


class TaskStream:
    """Weighted sampling over environments at fixed difficulties, or a curriculum's choice."""

    def __init__(
        self,
        env_specs: list[EnvSpec],
        seed: int = 0,
        curriculum: Curriculum | None = None,
        generator: Any | None = None,
        heldout: Any | None = None,
    ) -> None:
        if not env_specs:
            raise ValueError("a task stream needs at least one environment")
        self.specs = {s.id: s for s in env_specs}
        self.envs: dict[str, Environment] = {}  # built on first in-process use
        self.curriculum = curriculum
        self.generator = generator
        self.seed = seed
        self.drawn = 0
        self.failures: Counter[str] = Counter()
        self.fixed: list[Task] | None = None
        self.heldout = heldout  # an envs.heldout.HeldOutSplit: its tasks are for evaluation only
        self.heldout_rejected = 0

    def restrict_to(self, tasks: list[Task]) -> None:
        """From now on, cycle over ``tasks`` (a filtered set) in a seeded order instead of sampling."""
        if not tasks:
            raise ValueError("cannot restrict a task stream to no tasks")
        order = list(range(len(tasks)))
        random.Random(self.seed).shuffle(order)
        self.fixed = [tasks[i] for i in order]

    # -- drawing
    def _spec(self, rng: random.Random) -> tuple[str, int, int]:
        if self.curriculum is not None:
            return self.curriculum.next_task_spec(rng)
        ids = list(self.specs)
        env_id = rng.choices(ids, weights=[self.specs[i].weight for i in ids])[0]
        return env_id, self.specs[env_id].difficulty, rng.randrange(2**31)

    def next_task(self) -> Task:
        """The next training task: never one of the held-out split (those are redrawn)."""
        if self.fixed is not None:
            self.drawn += 1
            return self.fixed[(self.drawn - 1) % len(self.fixed)]
        for _ in range(MAX_HELDOUT_REJECTS):
            task = self._draw()
            if self.heldout is None or not self.heldout.is_heldout(task):
                return task
            self.heldout_rejected += 1
        raise RuntimeError(f"{MAX_HELDOUT_REJECTS} draws in a row were held out for evaluation: the environments "
                           "have almost no training tasks outside the held-out split")

    def _draw(self) -> Task:
        """The next task; environments that fail are skipped and counted, never fatal."""
        for _ in range(MAX_SAMPLE_TRIES):
            rng = random.Random(f"{self.seed}:{self.drawn}")
            self.drawn += 1
            env_id, difficulty, seed = self._spec(rng)
            task = self._sample(env_id, seed, difficulty)
            if task is not None:
                return task
        raise RuntimeError(f"{MAX_SAMPLE_TRIES} task draws in a row failed: {dict(self.failures)}")

    def sample_at(self, env_id: str, seed: int, difficulty: int) -> Task | None:
        """One task of ``env_id`` at ``difficulty`` outside the stream's order (calibration probes)."""
        return self._sample(env_id, seed, difficulty)

    def _sample(self, env_id: str, seed: int, difficulty: int) -> Task | None:
        if self.generator is not None:
            task = self.generator.sample_many([(env_id, seed, difficulty)], options={env_id: self.specs[env_id].options})[0]
            if task is None:
                self.failures[env_id] += 1
            return task
        try:
            if env_id not in self.envs:
                self.envs[env_id] = get_env(env_id, **self.specs[env_id].options)
            return self.envs[env_id].sample(seed=seed, difficulty=difficulty)
        except Exception as exc:  # noqa: BLE001 - a broken generator is skipped, not fatal
            log.warning("environment %s failed at seed=%s d=%s: %s", env_id, seed, difficulty, exc)
            self.failures[env_id] += 1
            return None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            task = self.next_task()
            yield {"prompt": as_chat(task.prompt), "task": task.to_json()}

    # -- feedback
    def observe(self, tasks: list[Task], verdicts: list[Verdict], group_size: int) -> None:
        """Feed a batch's verdicts (``group_size`` consecutive completions per prompt) to the curriculum."""
        if self.curriculum is None:
            return
        for start in range(0, len(tasks), group_size):
            group = tasks[start : start + group_size]
            rewards = [1.0 if v.correct else 0.0 for v in verdicts[start : start + group_size]]
            self.curriculum.update(group[0].env_id, group[0].difficulty, rewards)

    def observe_global(self, tasks: list[Task], verdicts: list[Verdict], group_size: int) -> None:
        """``observe`` on the global batch: this rank's share joined with every other rank's.

        Ranks hold identical streams (each draws the whole stream and trains on its slice), so
        feeding every copy the same global verdicts keeps them identical.
        """
        if self.curriculum is None:
            return
        from cascade.distributed import all_gather_list

        local = [(t.env_id, t.difficulty, bool(v.correct)) for t, v in zip(tasks, verdicts)]
        outcomes = all_gather_list(local)
        for start in range(0, len(outcomes), group_size):
            env_id, difficulty, _ = outcomes[start]
            rewards = [1.0 if ok else 0.0 for _, _, ok in outcomes[start : start + group_size]]
            self.curriculum.update(env_id, difficulty, rewards)

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {"tasks/drawn": float(self.drawn), "tasks/failures": float(sum(self.failures.values()))}
        if self.heldout is not None:
            out["tasks/heldout_rejected"] = float(self.heldout_rejected)
        if self.curriculum is not None:
            out.update(self.curriculum.metrics())
        if self.generator is not None:
            out.update({f"generator/{k}": float(v) for k, v in self.generator.stats().items()})
        return out

    # -- persistence
    def state_dict(self) -> dict[str, Any]:
        return {
            "drawn": self.drawn,
            "heldout_rejected": self.heldout_rejected,
            "failures": dict(self.failures),
            "curriculum": self.curriculum.state_dict() if self.curriculum is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.drawn = int(state.get("drawn", 0))
        self.heldout_rejected = int(state.get("heldout_rejected", 0))
        self.failures = Counter(state.get("failures", {}))
        if self.curriculum is not None and state.get("curriculum") is not None:
            self.curriculum.load_state_dict(state["curriculum"])


def task_from_json(text: str) -> Task:
    return Task.from_dict(json.loads(text))
