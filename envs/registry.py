"""The one registry shape every plug-in point uses (envs, providers, verifiers, stage kinds,
curriculum controllers, rewards).

A name maps to one definition. Registering a name twice with a different definition is an
error that names both (``module:qualname``), so two plug-ins can never silently shadow each
other. A definition may also be *declared* as a ``"module:qualname"`` string and imported on
first lookup, which keeps cheap imports cheap (the package ``__init__`` declares its built-ins).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class RegistryError(ValueError):
    """A name registered twice with two different definitions."""


class UnknownNameError(KeyError):
    """A name no entry knows; the message lists the known names."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


def origin(obj: Any) -> str:
    """``module:qualname`` of a class or function (of its type for other objects)."""
    target = obj if hasattr(obj, "__qualname__") else type(obj)
    return f"{getattr(target, '__module__', '?')}:{getattr(target, '__qualname__', repr(target))}"


def _import(path: str) -> Any:
    module, _, qualname = path.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """Name -> definition, refusing a repeated name with a different definition."""

    def __init__(self, kind: str, hint: str = "") -> None:
        self.kind = kind  # "environment", "verifier", ... for messages
        self.hint = hint  # e.g. "see `cascade envs list`"
        self._entries: dict[str, T] = {}
        self._origins: dict[str, str] = {}
        self._declared: dict[str, str] = {}

    def add(self, name: str, obj: T, where: str | None = None) -> T:
        """Register ``obj`` under ``name``; ``where`` overrides the ``module:qualname`` shown."""
        where = where or origin(obj)
        known = self._origins.get(name) or self._declared.get(name)
        if known is not None and known != where:
            raise RegistryError(f"{self.kind} {name!r} is defined twice: {known} and {where}")
        self._entries[name] = obj
        self._origins[name] = where
        return obj

    def declare(self, name: str, path: str) -> None:
        """Register ``"module:qualname"`` under ``name`` without importing it yet."""
        known = self._origins.get(name) or self._declared.get(name)
        if known is not None and known != path:
            raise RegistryError(f"{self.kind} {name!r} is defined twice: {known} and {path}")
        self._declared[name] = path

    def _resolve(self, name: str) -> None:
        if name in self._entries or name not in self._declared:
            return
        obj = _import(self._declared[name])  # importing usually registers it through a decorator
        if name not in self._entries:
            self.add(name, obj, self._declared[name])

    def get(self, name: str) -> T:
        self._resolve(name)
        if name not in self._entries:
            hint = f"; {self.hint}" if self.hint else ""
            raise UnknownNameError(f"unknown {self.kind} {name!r} (known: {', '.join(self.names())}){hint}")
        return self._entries[name]

    def where(self, name: str) -> str:
        """The ``module:qualname`` a name is defined by."""
        return self._origins.get(name) or self._declared[name]

    def names(self) -> list[str]:
        return sorted({*self._entries, *self._declared})

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._declared

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def items(self) -> list[tuple[str, T]]:
        return [(n, self.get(n)) for n in self.names()]

    def decorator(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            return self.add(name, obj)

        return deco
