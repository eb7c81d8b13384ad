"""reasoning-gym adapter: every procedural dataset as ``rg/<name>``.

Difficulty ``d`` is reasoning-gym's own curriculum level: ``curriculum.set_global_level(d)``
(each attribute clamps to its last level) and ``generate_configuration`` with the library's
default INCLUSIVE range mode. Datasets without a curriculum have only d = 0. The entry for
(name, d, seed) is item 0 of a size-1 dataset seeded with ``seed``, so any process rebuilds it.
``composite`` is left out: it mixes other datasets, which our curriculum already does.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import asdict
from typing import Any

from envs.base import EnvInfo, Environment, UnknownEnvironmentError, register_provider
from envs.generated import preserved_global_rng, try_encode
from envs.task import Task

ANSWER_INSTRUCTION = (
    "\n\nPut your final answer between <answer> and </answer> tags, for example "
    "<answer>your answer</answer>. Only the content of the last <answer>...</answer> block is graded."
)
EXCLUDED = frozenset({"composite"})


@functools.lru_cache(maxsize=1)
def rg_names() -> tuple[str, ...]:
    """Registered reasoning-gym dataset names (importing reasoning_gym registers them)."""
    import reasoning_gym  # noqa: F401
    from reasoning_gym.factory import DATASETS

    return tuple(sorted(n for n in DATASETS if n not in EXCLUDED))


@functools.lru_cache(maxsize=None)
def rg_max_level(name: str) -> int:
    """Highest curriculum level of ``name`` (0 without a curriculum)."""
    from reasoning_gym.factory import CURRICULA

    if name not in CURRICULA:
        return 0
    attrs = CURRICULA[name]().attributes.values()
    return max((len(a.levels) - 1 for a in attrs), default=0)


def rg_config(name: str, difficulty: int, seed: int, range_mode: str = "inclusive") -> Any:
    """The dataset config at curriculum level ``difficulty`` for a size-1 dataset seeded ``seed``."""
    from reasoning_gym.coaching.base_curriculum import DefaultCurriculumContext, RangeAttributeMode
    from reasoning_gym.factory import CURRICULA, DATASETS

    defaults = {"seed": int(seed), "size": 1}
    if name not in CURRICULA:
        return DATASETS[name][1](**defaults)
    curriculum = CURRICULA[name]()
    curriculum.set_global_level(int(difficulty))
    context = DefaultCurriculumContext(mode=RangeAttributeMode(range_mode))
    return curriculum.generate_configuration(defaults, context)


@functools.lru_cache(maxsize=256)
def rg_dataset(name: str, difficulty: int, seed: int, range_mode: str = "inclusive") -> Any:
    """The size-1 dataset for (name, difficulty, seed); cached because some are slow to build."""
    from reasoning_gym.factory import DATASETS

    with preserved_global_rng():
        config = rg_config(name, difficulty, seed, range_mode)
        return DATASETS[name][0](config=config)


@functools.lru_cache(maxsize=256)
def _cached_entry(name: str, difficulty: int, seed: int, range_mode: str) -> dict[str, Any]:
    with preserved_global_rng():  # a few datasets seed numpy's global RNG
        return rg_dataset(name, difficulty, seed, range_mode)[0]


def rg_entry(name: str, difficulty: int, seed: int, range_mode: str = "inclusive") -> dict[str, Any]:
    """The entry (question, answer, metadata) for (name, difficulty, seed); a private copy."""
    return copy.deepcopy(_cached_entry(name, int(difficulty), int(seed), range_mode))


def _config_dict(config: Any) -> dict[str, Any] | None:
    try:
        return try_encode(asdict(config))
    except TypeError:
        return None


class ReasoningGymEnvironment(Environment):
    """One reasoning-gym dataset behind the Environment contract."""

    source = "rg"

    def __init__(self, name: str, range_mode: str = "inclusive") -> None:
        if name not in rg_names():
            raise UnknownEnvironmentError(f"unknown reasoning-gym dataset {name!r}")
        self.name = name
        self.env_id = f"rg/{name}"
        self.range_mode = range_mode
        self.max_difficulty = rg_max_level(name)

    def sample(self, seed: int, difficulty: int = 0) -> Task:
        d = self.clamp(difficulty)
        entry = rg_entry(self.name, d, int(seed), self.range_mode)
        answer = entry.get("answer")
        payload = {
            "dataset": self.name,
            "difficulty": d,
            "seed": int(seed),
            "index": 0,
            "range_mode": self.range_mode,
            "config": _config_dict(rg_dataset(self.name, d, int(seed), self.range_mode).config),
            "answer": answer if isinstance(answer, str) else None,
            "entry": try_encode(entry),
        }
        return Task(
            prompt=str(entry["question"]).rstrip() + ANSWER_INSTRUCTION,
            verifier="rg",
            payload=payload,
            env_id=self.env_id,
            difficulty=d,
            seed=int(seed),
            reference=f"<answer>{answer}</answer>" if isinstance(answer, str) else None,
            meta={"source": "rg"},
        )


def _list_infos() -> list[EnvInfo]:
    return [EnvInfo(f"rg/{n}", "rg", 0, rg_max_level(n), f"reasoning-gym {n}", isolated=True) for n in rg_names()]


# reasoning-gym generators reseed process-wide RNGs: keep them out of the trainer process
register_provider("rg", _list_infos, ReasoningGymEnvironment, isolated=True)
