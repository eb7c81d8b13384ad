"""How a completion is judged: every verifier returns a Verdict."""

from verifiers.base import (
    UnknownVerifierError,
    Verdict,
    Verifier,
    get_verifier,
    list_verifiers,
    register_verifier,
    verify_safely,
)

__all__ = [
    "UnknownVerifierError",
    "Verdict",
    "Verifier",
    "get_verifier",
    "list_verifiers",
    "register_verifier",
    "verify_safely",
]
