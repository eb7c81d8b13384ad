"""Environment contract and the environment registry.

An environment turns ``(seed, difficulty)`` into a Task, deterministically. Sources with
many environments (rlve-gym, reasoning-gym) register a *provider* that lists ids and
builds an environment on demand, so importing the registry stays cheap.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

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
    env_id: str
    source: str
    min_difficulty: int
    max_difficulty: int | None
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "env_id": self.env_id,
            "source": self.source,
            "min_difficulty": self.min_difficulty,
            "max_difficulty": self.max_difficulty,
            "description": self.description,
        }


@dataclass
class _Provider:
    prefix: str
    list_infos: Callable[[], Iterable[EnvInfo]]
    make: Callable[..., Environment]


_ENVS: dict[str, tuple[EnvInfo, Callable[..., Environment]]] = {}
_PROVIDERS: dict[str, _Provider] = {}


class UnknownEnvironmentError(KeyError):
    """Raised for an env id no registry entry or provider knows."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


def register_env(
    env_id: str,
    source: str = "builtin",
    min_difficulty: int = 0,
    max_difficulty: int | None = None,
    description: str = "",
) -> Callable[[Callable[..., Environment]], Callable[..., Environment]]:
    """Class/factory decorator: register one environment under ``env_id``."""

    def deco(factory: Callable[..., Environment]) -> Callable[..., Environment]:
        _ENVS[env_id] = (EnvInfo(env_id, source, min_difficulty, max_difficulty, description), factory)
        return factory

    return deco


def register_provider(
    prefix: str, list_infos: Callable[[], Iterable[EnvInfo]], make: Callable[..., Environment]
) -> None:
    """Register a family of environments whose ids start with ``prefix + '/'``."""
    _PROVIDERS[prefix] = _Provider(prefix, list_infos, make)


def _load_builtin_sources() -> None:
    # Importing these modules registers their environments and providers.
    import envs.sources  # noqa: F401


def get_env(env_id: str, **options: Any) -> Environment:
    """Build the environment registered as ``env_id`` with its options."""
    _load_builtin_sources()
    if env_id in _ENVS:
        env = _ENVS[env_id][1](**options)
    else:
        prefix = env_id.split("/", 1)[0]
        if prefix not in _PROVIDERS or "/" not in env_id:
            raise UnknownEnvironmentError(f"unknown environment {env_id!r}; see `cascade envs list`")
        env = _PROVIDERS[prefix].make(env_id.split("/", 1)[1], **options)
    env.env_id = env.env_id or env_id
    return env


def list_envs(source: str | None = None) -> list[EnvInfo]:
    """Every registered environment, optionally only those of one source."""
    _load_builtin_sources()
    infos = [info for info, _ in _ENVS.values()]
    for provider in _PROVIDERS.values():
        infos.extend(provider.list_infos())
    if source is not None:
        infos = [i for i in infos if i.source == source]
    return sorted(infos, key=lambda i: i.env_id)
