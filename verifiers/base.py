"""Verifier contract, the Verdict, and the verifier registry.

Model output is hostile input: ``verify`` must never raise for a bad completion.
``verify_safely`` is the last line of defence that turns any exception that still
escapes into a zero-reward Verdict, so a buggy verifier can never crash training.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


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


class UnknownVerifierError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


_VERIFIERS: dict[str, Callable[..., Verifier]] = {}


def register_verifier(name: str) -> Callable[[type[Verifier]], type[Verifier]]:
    """Class decorator: register a Verifier subclass under ``name``."""

    def deco(cls: type[Verifier]) -> type[Verifier]:
        cls.name = name
        _VERIFIERS[name] = cls
        return cls

    return deco


def _load_builtin_verifiers(name: str | None = None) -> None:
    from verifiers.builtin import import_builtin  # importing a module registers its verifiers

    import_builtin(name)


def get_verifier(name: str, **options: Any) -> Verifier:
    if name not in _VERIFIERS:  # import only its module; all of them when the name is unknown
        _load_builtin_verifiers(name)
    if name not in _VERIFIERS:
        known = ", ".join(sorted(_VERIFIERS))
        raise UnknownVerifierError(f"unknown verifier {name!r} (known: {known})")
    return _VERIFIERS[name](**options)


def list_verifiers() -> list[str]:
    _load_builtin_verifiers()
    return sorted(_VERIFIERS)


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
