"""The "math" verifier: final-answer equivalence on math-verify, hardened for RL rewards."""

from verifiers.math.verifier import MathVerifier

__all__ = ["MathVerifier"]
