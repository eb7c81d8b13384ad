"""The one registry shape every plug-in point uses (envs, providers, verifiers, stage kinds,
curriculum controllers, rewards).

A name maps to one definition. Registering a name twice with a different definition is an
error that names both (``module:qualname``), so two plug-ins can never silently shadow each
other. A definition may also be *declared* as a ``"module:qualname"`` string and imported on
first lookup, which keeps cheap imports cheap (the package ``__init__`` declares its built-ins).
"""

from __future__ import annotations

import importlib
import inspect
import typing
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


# ---------------------------------------------------------------- options against signatures

Problem = tuple[str, str]  # (key path below the options mapping, problem)


def _own_init(cls: type) -> Any | None:
    return cls.__dict__.get("__init__")


def accepted_options(
    target: Any, skip: int = 0, options_from: Any = None
) -> dict[str, tuple[inspect.Parameter, Any]] | None:
    """Keyword options ``target`` accepts: name -> (parameter, the callable that declares it).

    ``**options`` is followed to what it feeds: an ``options_from`` attribute (or, for a class,
    the next ``__init__`` up the MRO, the ``super().__init__(**options)`` pattern). None means
    "anything": a ``**options`` that leads nowhere declared cannot be checked.
    """
    out: dict[str, tuple[inspect.Parameter, Any]] = {}
    chain: list[Any] = []
    if inspect.isclass(target):
        for cls in target.__mro__:
            init = _own_init(cls)
            if cls is object or init is None:
                continue
            chain.append(init)
            if not _has_var_keyword(init):
                break
            if "options_from" in cls.__dict__:
                chain.append(cls.__dict__["options_from"])
                break
    else:
        chain = [target]
        extra = options_from or getattr(target, "options_from", None)
        if extra is not None and _has_var_keyword(target):
            chain.append(extra)
    open_ended = False
    for i, fn in enumerate(chain):
        fn = fn.__func__ if isinstance(fn, staticmethod) else fn
        params = list(inspect.signature(fn).parameters.values())
        if getattr(fn, "__name__", "") == "__init__":
            params = params[1:]  # self
        if i == 0:
            params = params[skip:]
        for p in params:
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                out.setdefault(p.name, (p, fn))
        open_ended = any(p.kind is p.VAR_KEYWORD for p in params)
    return None if open_ended else out


def _has_var_keyword(fn: Any) -> bool:
    fn = fn.__func__ if isinstance(fn, staticmethod) else fn
    return any(p.kind is p.VAR_KEYWORD for p in inspect.signature(fn).parameters.values())


def _hints(fn: Any) -> dict[str, Any]:
    target = fn.__init__ if inspect.isclass(fn) and not hasattr(fn, "__dataclass_fields__") else fn
    try:
        return typing.get_type_hints(target)
    except Exception:  # noqa: BLE001 - an unresolvable annotation is simply not type-checked
        return {}


def check_options(
    target: Any, options: dict[str, Any], skip: int = 0, fixed: tuple[str, ...] = (), options_from: Any = None
) -> list[Problem]:
    """Bind ``options`` against ``target``'s signature (torchtune-style); one problem per bad key.

    Unknown keys, missing required ones, and values that do not fit an annotation are
    reported; ``fixed`` names parameters the caller sets itself (not options).
    """
    from pydantic import TypeAdapter, ValidationError

    accepted = accepted_options(target, skip, options_from)
    if accepted is None:
        return []
    for name in fixed:
        accepted.pop(name, None)
    problems: list[Problem] = []
    for key in options:
        if key not in accepted:
            known = ", ".join(sorted(accepted)) or "none"
            problems.append((str(key), f"unknown option {key!r} (known: {known})"))
    for name, (param, _) in accepted.items():
        if param.default is inspect.Parameter.empty and name not in options:
            problems.append((name, f"missing required option {name!r}"))
    for key, value in options.items():
        if key not in accepted:
            continue
        hint = _hints(accepted[key][1]).get(key)
        if hint is None:
            continue
        try:
            TypeAdapter(hint).validate_python(value)
        except ValidationError as exc:
            problems.append((str(key), f"{value!r}: {exc.errors()[0]['msg']}"))
        except Exception:  # noqa: BLE001 - a type pydantic cannot build a schema for is not checked
            continue
    return problems
