"""How a completion is judged: every verifier returns a Verdict.

Registration is explicit: every built-in verifier is declared below by ``module:qualname``
and imported on first lookup (``verifiers.instructions`` alone costs ~1.5 s of imports), so
judging one math answer does not load the instruction checkers. Each module also registers
its classes with ``@register_verifier`` when imported; a name defined twice is an error.
"""

from verifiers.base import (
    VERIFIERS,
    UnknownVerifierError,
    Verdict,
    Verifier,
    get_verifier,
    list_verifiers,
    register_verifier,
    verifier_class,
    verify_safely,
)

BUILTIN_VERIFIERS = {
    "exact": "verifiers.answer:ExactAnswerVerifier",
    "answer_format": "verifiers.answer:AnswerFormatVerifier",
    "math": "verifiers.math.verifier:MathVerifier",
    "code": "verifiers.code:CodeVerifier",
    "code_output": "verifiers.code:CodeOutputVerifier",
    "code_input": "verifiers.code:CodeInputVerifier",
    "code_breaker": "verifiers.code:CodeBreakerVerifier",
    "instructions": "verifiers.instructions.verifier:InstructionsVerifier",
    "rlve": "verifiers.rlve:RLVEVerifier",
    "rg": "verifiers.reasoning_gym:ReasoningGymVerifier",
    "none": "verifiers.reward_model:NoCheckVerifier",
}
for _name, _path in BUILTIN_VERIFIERS.items():
    VERIFIERS.declare(_name, _path)

__all__ = [
    "BUILTIN_VERIFIERS",
    "UnknownVerifierError",
    "VERIFIERS",
    "Verdict",
    "Verifier",
    "get_verifier",
    "list_verifiers",
    "register_verifier",
    "verifier_class",
    "verify_safely",
]
