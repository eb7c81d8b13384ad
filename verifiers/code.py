"""Code verifiers: run model-written Python against tests in the sandbox.

``code`` judges a solution on APPS/TACO-style tests. The auxiliary verifiers judge the
report's code side tasks: ``code_output`` (predict a program's output), ``code_input``
(propose an input the reference maps to a given output) and ``code_breaker`` (find an
input on which a known-wrong solution disagrees with the reference). Expected outputs
never enter the sandbox, so a program cannot see or forge them.
"""

from __future__ import annotations

import json
from typing import Any

from verifiers.base import Verdict, Verifier, register_verifier
from verifiers.sandbox import SandboxConfig, SandboxUnavailable, preflight
from verifiers.sandbox.cases import CaseResult, as_call_input, run_case
from verifiers.sandbox.judge import extract_answer_block, extract_code, outputs_match

MAX_CODE_CHARS = 1 << 20
MAX_INPUT_CHARS = 1 << 16


def _tests_problem(payload: dict[str, Any]) -> str | None:
    """What is wrong with a ``code`` payload's tests, in one line (None when usable)."""
    inputs, outputs, fn_name = payload.get("inputs"), payload.get("outputs"), payload.get("fn_name") or None
    for key, value in (("inputs", inputs), ("outputs", outputs)):
        if not isinstance(value, list):
            return f"'{key}' must be a list, got {type(value).__name__}" if value is not None else f"missing '{key}'"
    if len(inputs) != len(outputs):
        return f"'inputs' has {len(inputs)} entries but 'outputs' has {len(outputs)}"
    if not inputs:
        return "'inputs' is empty"
    if fn_name is not None and (not isinstance(fn_name, str) or not fn_name.isidentifier()):
        return f"'fn_name' must be a Python identifier, got {fn_name!r}"[:200]
    for key, values in (("inputs", inputs), ("outputs", outputs)):
        for i, value in enumerate(values):
            if not fn_name and not isinstance(value, str):
                return f"{key}[{i}] must be a string for a stdin test, got {type(value).__name__}"
            if fn_name and isinstance(value, str):
                try:
                    json.loads(value)
                except (ValueError, RecursionError):
                    return f"{key}[{i}] is not JSON (call-based tests hold JSON values)"
    for key in ("time_limit_s", "memory_limit_mb"):
        value = payload.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0):
            return f"'{key}' must be a positive number, got {value!r}"[:200]
    return None


class _SandboxVerifier(Verifier):
    """Shared option handling: sandbox limits plus retry count for infra failures."""

    def __init__(self, retries: int = 2, **options: Any) -> None:
        self.config = SandboxConfig.from_options(**options)
        self.retries = retries
        preflight(self.config)  # raises SandboxUnavailable with a clear message

    def _config(self, payload: dict[str, Any]) -> SandboxConfig:
        return self.config.with_limits(payload.get("time_limit_s"), payload.get("memory_limit_mb"))

    @staticmethod
    def _infra(case: CaseResult | None, message: str, **details: Any) -> Verdict:
        # Not the model's failure: the trainer/pool should retry or drop, never learn from it.
        return Verdict.fail("sandbox_error", infra_error=True, error=message[:500], **details)


@register_verifier("code")
class CodeVerifier(_SandboxVerifier):
    """All tests pass -> reward 1.0; optional partial credit stays below 1.0."""

    def __init__(self, partial_credit: bool = False, stop_at_first_failure: bool = True,
                 max_tests: int | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.partial_credit = partial_credit
        self.stop_at_first_failure = stop_at_first_failure
        self.max_tests = max_tests

    def verify(self, completion: str, payload: dict[str, Any]) -> Verdict:
        problem = _tests_problem(payload)
        if problem:
            return Verdict.fail("bad_payload", error=problem)
        inputs, outputs = payload["inputs"], payload["outputs"]
        fn_name = payload.get("fn_name") or None
        code = extract_code(completion)
        if code is None or len(code) > MAX_CODE_CHARS:
            return Verdict.fail("no_code", length=len(code or ""))
        config = self._config(payload)
        tests = list(zip(inputs, outputs))[: self.max_tests] if self.max_tests else list(zip(inputs, outputs))
        results: list[dict[str, Any]] = []
        first_failure: CaseResult | None = None
        passed = 0
        isolation: list[str] = []
        for test_in, test_out in tests:
            stdin = as_call_input(test_in) if fn_name else str(test_in)
            want = as_call_input(test_out) if fn_name else str(test_out)
            try:
                case = run_case(code, stdin, config, fn_name, want, retries=self.retries)
            except SandboxUnavailable as exc:
                return self._infra(None, str(exc))
            isolation = case.isolation
            results.append({"status": case.status, "wall_s": round(case.wall_s, 4)})
            if case.status == "sandbox_error":
                return self._infra(case, case.infra_error or "sandbox error", isolation=isolation,
                                   tests_done=len(results))
            if case.passed:
                passed += 1
                continue
            first_failure = first_failure or case
            if self.stop_at_first_failure:
                break
        details: dict[str, Any] = {
            "isolation": isolation, "tests_passed": passed, "tests_total": len(tests),
            "tests": results[:50], "limits": {"time_limit_s": config.time_limit_s,
                                              "memory_limit_mb": config.memory_limit_mb},
            "infra_error": False,
        }
        if first_failure is None:
            return Verdict(1.0, True, "passed", extracted=code, details=details)
        details["stderr_tail"] = first_failure.stderr_tail
        reward = passed / len(tests) if self.partial_credit else 0.0
        return Verdict(min(reward, 0.999), False, first_failure.status, extracted=code, details=details)


@register_verifier("code_output")
class CodeOutputVerifier(Verifier):
    """Predict-the-output: the last ```output block must equal the expected output.

    Payload: {"expected_output": str}. No execution: the output was computed when the
    task was built, by running the reference solution.
    """

    def __init__(self, **options: Any) -> None:
        """Sandbox options are accepted (configs pass one set to every code verifier) and unused."""

    def verify(self, completion: str, payload: dict[str, Any]) -> Verdict:
        want = payload.get("expected_output")
        if not isinstance(want, str):
            return Verdict.fail("bad_payload", error=f"'expected_output' must be a string, got {type(want).__name__}")
        got = extract_answer_block(completion, "output")
        if got is None:
            return Verdict.fail("no_answer")
        if outputs_match(got, want):
            return Verdict(1.0, True, "passed", extracted=got)
        return Verdict(0.0, False, "wrong_answer", extracted=got[:2000])


def _strings_problem(payload: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if key not in payload:
            return f"missing '{key}'"
        if not isinstance(payload[key], str):
            return f"'{key}' must be a string, got {type(payload[key]).__name__}"
    return None


def _proposed_input(completion: str, fn_name: str | None) -> str | None:
    got = extract_answer_block(completion, "input")
    if got is None or len(got) > MAX_INPUT_CHARS:
        return None
    if fn_name:
        try:
            args = json.loads(got)
        except ValueError:
            return None
        return json.dumps(args) if isinstance(args, list) else None
    return got


@register_verifier("code_input")
class CodeInputVerifier(_SandboxVerifier):
    """Predict-an-input: the reference, run on the proposed ```input, must print the target.

    Payload: {"reference": str, "target_output": str, "fn_name": optional, limits}.
    """

    def verify(self, completion: str, payload: dict[str, Any]) -> Verdict:
        ref, target = payload.get("reference"), payload.get("target_output")
        problem = _strings_problem(payload, ("reference", "target_output"))
        if problem:
            return Verdict.fail("bad_payload", error=problem)
        fn_name = payload.get("fn_name") or None
        proposed = _proposed_input(completion, fn_name)
        if proposed is None:
            return Verdict.fail("no_answer")
        try:
            case = run_case(ref, proposed, self._config(payload), fn_name, target, retries=self.retries)
        except SandboxUnavailable as exc:
            return self._infra(None, str(exc))
        if case.status == "sandbox_error":
            return self._infra(case, case.infra_error or "sandbox error", isolation=case.isolation)
        details = {"isolation": case.isolation, "reference_status": case.status, "infra_error": False}
        if case.passed:
            return Verdict(1.0, True, "passed", extracted=proposed, details=details)
        reason = "wrong_answer" if case.status == "wrong_answer" else "invalid_input"
        return Verdict(0.0, False, reason, extracted=proposed[:2000], details=details)


@register_verifier("code_breaker")
class CodeBreakerVerifier(_SandboxVerifier):
    """Break-a-solution: on the proposed input the reference must run cleanly and the
    wrong solution must disagree with it (wrong output, crash or timeout).

    Payload: {"reference": str, "wrong": str, "fn_name": optional, limits}.
    """

    def verify(self, completion: str, payload: dict[str, Any]) -> Verdict:
        ref, wrong = payload.get("reference"), payload.get("wrong")
        problem = _strings_problem(payload, ("reference", "wrong"))
        if problem:
            return Verdict.fail("bad_payload", error=problem)
        fn_name = payload.get("fn_name") or None
        proposed = _proposed_input(completion, fn_name)
        if proposed is None:
            return Verdict.fail("no_answer")
        config = self._config(payload)
        try:
            gold = run_case(ref, proposed, config, fn_name, None, retries=self.retries)
            if gold.status == "ok":
                expected = gold.output if not fn_name else json.dumps(gold.output)
                bad = run_case(wrong, proposed, config, fn_name, expected, retries=self.retries)
        except SandboxUnavailable as exc:
            return self._infra(None, str(exc))
        if gold.status == "sandbox_error":
            return self._infra(gold, gold.infra_error or "sandbox error", isolation=gold.isolation)
        details: dict[str, Any] = {"isolation": gold.isolation, "reference_status": gold.status,
                                   "infra_error": False}
        if gold.status != "ok":
            return Verdict(0.0, False, "invalid_input", extracted=proposed[:2000], details=details)
        if bad.status == "sandbox_error":
            return self._infra(bad, bad.infra_error or "sandbox error", isolation=bad.isolation)
        details["wrong_status"] = bad.status
        if bad.passed:
            return Verdict(0.0, False, "not_broken", extracted=proposed[:2000], details=details)
        return Verdict(1.0, True, "passed", extracted=proposed, details=details)
