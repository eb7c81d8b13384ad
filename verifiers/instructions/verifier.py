"""The "instructions" verifier: does a completion follow its verifiable constraints?

Strict mode checks the response as written; loose mode is IFEval's: a constraint passes
if any of the response, the response without its first line, last line or both, or any
of those with every ``*`` removed, passes. The reward is all-or-nothing (``reward="all"``)
or the fraction of constraints followed (``reward="fraction"``); ``correct`` is always
"every constraint followed". Verdict.details lists each constraint's pass/fail.
"""

from __future__ import annotations

from typing import Any

from verifiers.base import Verdict, Verifier, register_verifier
from verifiers.instructions.library import get_loose_transformations, strip_thinking
from verifiers.instructions.payload import Constraint, InstructionPayloadError, parse_payload
from verifiers.instructions.registry import build_checker

MODES = ("strict", "loose")
REWARDS = ("all", "fraction")


def _passes(checker: Any, variants: list[str]) -> tuple[bool, str | None]:
    """IFEval's rule: a variant counts only if it is non-blank and the check holds."""
    error = None
    for variant in variants:
        if not variant.strip():
            continue
        try:
            if checker.check_following(variant):
                return True, None
        except Exception as exc:  # noqa: BLE001 - library checks can trip on odd text
            error = f"{type(exc).__name__}: {exc}"[:200]
    return False, error


@register_verifier("instructions")
class InstructionsVerifier(Verifier):
    """Judges IFEval/IFBench-style constraints; never raises on a completion."""

    def __init__(
        self,
        mode: str = "strict",
        reward: str = "all",
        strip_think: bool = True,
        max_chars: int = 100_000,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if reward not in REWARDS:
            raise ValueError(f"reward must be one of {REWARDS}, got {reward!r}")
        self.mode = mode
        self.reward = reward
        self.strip_think = strip_think
        self.max_chars = int(max_chars)

    def verify(self, completion: str, payload: dict[str, Any]) -> Verdict:
        try:
            constraints, _ = parse_payload(payload)
        except InstructionPayloadError as exc:
            return Verdict.fail("bad_payload", error=str(exc))
        if not isinstance(completion, str):
            return Verdict.fail("bad_completion", type=type(completion).__name__)
        if len(completion) > self.max_chars:
            return Verdict.fail("too_long", chars=len(completion), max_chars=self.max_chars)
        response = strip_thinking(completion) if self.strip_think else completion
        try:
            return self._judge(response, constraints)
        except InstructionPayloadError as exc:
            return Verdict.fail("bad_payload", error=str(exc))

    def _judge(self, response: str, constraints: list[Constraint]) -> Verdict:
        variants = get_loose_transformations(response) if self.mode == "loose" else [response]
        results = []
        for constraint in constraints:
            try:
                checker = build_checker(constraint.instruction_id, constraint.kwargs)
            except Exception as exc:  # noqa: BLE001 - kwargs the library still refuses
                raise InstructionPayloadError(
                    f"{constraint.instruction_id!r} rejected its kwargs: {type(exc).__name__}: {exc}"[:300]
                ) from None
            passed, error = _passes(checker, variants)
            result: dict[str, Any] = {"id": constraint.instruction_id, "passed": passed}
            if error and not passed:
                result["error"] = error
            results.append(result)
        followed = sum(r["passed"] for r in results)
        all_followed = followed == len(results)
        if self.reward == "all":
            reward = 1.0 if all_followed else 0.0
        else:
            reward = followed / len(results)
        reason = "correct" if all_followed else ("empty_completion" if not response.strip() else "constraint_failed")
        details = {"mode": self.mode, "followed": followed, "total": len(results), "constraints": results}
        return Verdict(reward=reward, correct=all_followed, reason=reason, details=details)
