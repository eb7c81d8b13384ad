"""Verifier contract, the Verdict, and the verifier registry.

This module imports none of its plug-ins: ``verifiers/__init__.py`` declares every
built-in verifier by ``module:qualname``, imported on first lookup.

Model output is hostile input: ``verify`` must never raise for a bad completion.
``verify_safely`` is the last line of defence that turns any exception that still
escapes into a zero-reward Verdict, so a buggy verifier can never crash training.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from envs.registry import Registry, UnknownNameError


@dataclass
class Verdict:
    """How one completion was judged.

    ``reward`` is what the trainer sees; ``correct`` is the binary pass used for
    accuracy metrics and curricula; ``reason`` is a short machine-readable family
    (``correct``, ``wrong_answer``, ``no_answer``, ``timeout``, ...).
    """

    reward: float
    correct: bool
    reason: str
    extracted: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def fail(cls, reason: str, **details: Any) -> "Verdict":
        return cls(reward=0.0, correct=False, reason=reason, details=details)


class Verifier(ABC):
    """Judges a completion against a task payload."""

    name: str = ""

    @abstractmethod
    def verify(self, completion: str, payload: dict[str, Any]) -> Verdict:
        """Return a Verdict; never raise because of ``completion``."""


class UnknownVerifierError(UnknownNameError):
    """A verifier name nothing registered or declared."""


VERIFIERS: Registry[type[Verifier]] = Registry("verifier")


def register_verifier(name: str) -> Callable[[type[Verifier]], type[Verifier]]:
    """Class decorator: register a Verifier subclass under ``name`` (a second, different class is an error)."""

    def deco(cls: type[Verifier]) -> type[Verifier]:
        VERIFIERS.add(name, cls)
        cls.name = name
        return cls

    return deco


def verifier_class(name: str) -> type[Verifier]:
    """The class registered as ``name``, importing its module on first use."""
    try:
        return VERIFIERS.get(name)
    except UnknownNameError as exc:
        raise UnknownVerifierError(str(exc)) from None


def get_verifier(name: str, **options: Any) -> Verifier:
    return verifier_class(name)(**options)


def list_verifiers() -> list[str]:
    return VERIFIERS.names()


def verify_safely(verifier: Verifier, completion: Any, payload: Any) -> Verdict:
    """Run a verifier, turning anything that escapes it into a zero-reward Verdict."""
    if not isinstance(completion, str):
        return Verdict.fail("bad_completion", type=type(completion).__name__)
    if not isinstance(payload, dict):
        return Verdict.fail("bad_payload", error=f"payload must be a JSON object, got {type(payload).__name__}")
    try:
        verdict = verifier.verify(completion, payload)
    except Exception as exc:  # noqa: BLE001 - the point is to catch everything
        return Verdict.fail("verifier_error", error=f"{type(exc).__name__}: {exc}"[:500])
    if not isinstance(verdict, Verdict):
        return Verdict.fail("verifier_error", error="verifier returned a non-Verdict")
    return verdict
