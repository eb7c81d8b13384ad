"""Environment contract and the environment registry.

An environment turns ``(seed, difficulty)`` into a Task, deterministically. Sources with
many environments (rlve-gym, reasoning-gym) register a *provider* that lists ids and
builds an environment on demand, so importing the registry stays cheap.

This module imports none of its plug-ins: ``envs/__init__.py`` imports every built-in
source, and importing a source registers it.
"""

from __future__ import annotations

import fnmatch
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from envs.registry import Registry, UnknownNameError, origin
from envs.task import Task


class Environment(ABC):
    """A deterministic task generator: ``sample(seed, difficulty) -> Task``."""

    env_id: str = ""
    source: str = "builtin"
    min_difficulty: int = 0
    max_difficulty: int | None = None

    @abstractmethod
    def sample(self, seed: int, difficulty: int = 0) -> Task:
        """Build the task for ``seed`` at ``difficulty``; same arguments, same task."""

    def clamp(self, difficulty: int) -> int:
        hi = self.max_difficulty if self.max_difficulty is not None else difficulty
        return max(self.min_difficulty, min(int(difficulty), hi))


@dataclass(frozen=True)
class EnvInfo:
    """What the registry knows about an environment without building it.

    ``isolated``: its generator reseeds process-wide RNGs or times itself out with threads,
    so under Ray it must run in a generator pool process, never in the trainer's.
    """

    env_id: str
    source: str
    min_difficulty: int
    max_difficulty: int | None
    description: str = ""
    isolated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "env_id": self.env_id,
            "source": self.source,
            "min_difficulty": self.min_difficulty,
            "max_difficulty": self.max_difficulty,
            "description": self.description,
            "isolated": self.isolated,
        }


@dataclass(frozen=True)
class EnvEntry:
    """One registered environment: its info, its factory, and what describes its options.

    ``options_from`` is the callable whose signature lists the options, for factories that
    take ``**options`` and pass them on (default: the factory itself).
    """

    info: EnvInfo
    factory: Callable[..., Environment]
    options_from: Callable[..., Any] | None = None


@dataclass(frozen=True)
class Provider:
    """A family of environments whose ids are ``prefix/<name>``; ``make(name, **options)``."""

    prefix: str
    list_infos: Callable[[], Iterable[EnvInfo]]
    make: Callable[..., Environment]
    isolated: bool = False


ENVS: Registry[EnvEntry] = Registry("environment", "see `cascade envs list`")
PROVIDERS: Registry[Provider] = Registry("environment provider")


class UnknownEnvironmentError(UnknownNameError):
    """Raised for an env id no registry entry or provider knows."""


def register_env(
    env_id: str,
    source: str = "builtin",
    min_difficulty: int = 0,
    max_difficulty: int | None = None,
    description: str = "",
    options_from: Callable[..., Any] | None = None,
    isolated: bool = False,
) -> Callable[[Callable[..., Environment]], Callable[..., Environment]]:
    """Class/factory decorator: register one environment under ``env_id``."""

    def deco(factory: Callable[..., Environment]) -> Callable[..., Environment]:
        info = EnvInfo(env_id, source, min_difficulty, max_difficulty, description, isolated)
        ENVS.add(env_id, EnvEntry(info, factory, options_from), where=origin(factory))
        return factory

    return deco


def register_provider(
    prefix: str, list_infos: Callable[[], Iterable[EnvInfo]], make: Callable[..., Environment], isolated: bool = False
) -> None:
    """Register a family of environments whose ids start with ``prefix + '/'``."""
    PROVIDERS.add(prefix, Provider(prefix, list_infos, make, isolated), where=origin(make))


def provider_for(env_id: str) -> tuple[Provider, str] | None:
    """(provider, name within it) for a provider id like ``rlve/Sudoku``; None otherwise."""
    prefix, sep, name = env_id.partition("/")
    if not sep or prefix not in PROVIDERS:
        return None
    return PROVIDERS.get(prefix), name


def get_env(env_id: str, **options: Any) -> Environment:
    """Build the environment registered as ``env_id`` with its options."""
    if env_id in ENVS:
        env = ENVS.get(env_id).factory(**options)
    else:
        found = provider_for(env_id)
        if found is None:
            raise UnknownEnvironmentError(f"unknown environment {env_id!r}; see `cascade envs list`")
        env = found[0].make(found[1], **options)
    env.env_id = env.env_id or env_id
    return env


def is_isolated(env_id: str) -> bool:
    """Whether ``env_id`` must be sampled in its own process (its source says so)."""
    if env_id in ENVS:
        return ENVS.get(env_id).info.isolated
    found = provider_for(env_id)
    return bool(found and found[0].isolated)


GLOB_CHARS = "*?["


def match_env_ids(pattern: str) -> list[str]:
    """The ids an env id in a config stands for: itself, or every registered id its glob matches."""
    if not any(ch in pattern for ch in GLOB_CHARS):
        return [pattern]
    return [i.env_id for i in list_envs() if fnmatch.fnmatchcase(i.env_id, pattern)]


def list_envs(source: str | None = None) -> list[EnvInfo]:
    """Every registered environment, optionally only those of one source."""
    infos = [entry.info for _, entry in ENVS.items()]
    for _, provider in PROVIDERS.items():
        infos.extend(provider.list_infos())
    if source is not None:
        infos = [i for i in infos if i.source == source]
    return sorted(infos, key=lambda i: i.env_id)
