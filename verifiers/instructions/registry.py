"""The constraint-checker registry: IFEval's 25 ids plus IFBench's out-of-distribution ids.

Checkers come from the ``if-verifiable`` package (IFEval's and IFBench's own code), with
the data-dependent ones swapped for offline versions (``overrides``) and the two that
cannot run offline left out (``schema.UNSUPPORTED``).
"""

from __future__ import annotations

from typing import Any

from verifiers.instructions.library import IFBENCH_CLASSES, IFEVAL_CLASSES
from verifiers.instructions.overrides import OVERRIDES
from verifiers.instructions.schema import IFBENCH_KWARGS, IFEVAL_KWARGS, UNSUPPORTED, Validator

IFEVAL_IDS: tuple[str, ...] = tuple(sorted(IFEVAL_CLASSES))
IFBENCH_IDS: tuple[str, ...] = tuple(sorted(set(IFBENCH_CLASSES) - set(UNSUPPORTED)))

CHECKERS: dict[str, type] = {
    **{i: OVERRIDES.get(i, IFEVAL_CLASSES[i]) for i in IFEVAL_IDS},
    **{i: OVERRIDES.get(i, IFBENCH_CLASSES[i]) for i in IFBENCH_IDS},
}

KWARG_SPECS: dict[str, dict[str, Validator]] = {**IFEVAL_KWARGS, **IFBENCH_KWARGS}


def checker_ids(family: str | None = None) -> list[str]:
    """Every supported constraint id, or only ``family`` ("ifeval" or "ifbench")."""
    if family == "ifeval":
        return list(IFEVAL_IDS)
    if family == "ifbench":
        return list(IFBENCH_IDS)
    if family is None:
        return sorted(CHECKERS)
    raise ValueError(f"unknown family {family!r}; use 'ifeval' or 'ifbench'")


def build_checker(instruction_id: str, kwargs: dict[str, Any]) -> Any:
    """Instantiate the library checker for validated ``kwargs`` (see ``payload``)."""
    checker = CHECKERS[instruction_id](instruction_id)
    checker.build_description(**kwargs)
    return checker
