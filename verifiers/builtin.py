"""Where each built-in verifier lives, so one can be imported without the others.

``cascade verify math`` should not pay for NLTK, pandas and datasets (the instruction
checkers' imports); each module registers its verifiers with @register_verifier when
imported. A test keeps this table equal to what the modules register.
"""

from __future__ import annotations

import importlib

MODULES: dict[str, str] = {
    "exact": "verifiers.answer",
    "answer_format": "verifiers.answer",
    "instructions": "verifiers.instructions",
    "code": "verifiers.code",
    "code_output": "verifiers.code",
    "code_input": "verifiers.code",
    "code_breaker": "verifiers.code",
    "math": "verifiers.math",
    "rlve": "verifiers.rlve",
    "rg": "verifiers.reasoning_gym",
    "none": "verifiers.reward_model",
}


def import_builtin(name: str | None = None) -> None:
    """Import the module of built-in verifier ``name``; every module when unknown or None."""
    for module in [MODULES[name]] if name in MODULES else dict.fromkeys(MODULES.values()):
        importlib.import_module(module)
