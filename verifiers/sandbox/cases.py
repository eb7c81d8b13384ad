"""Run one test case in the sandbox and judge it outside: the unit every code verifier uses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from verifiers.sandbox.config import SandboxConfig
from verifiers.sandbox.judge import outputs_match, parse_call_result, values_match
from verifiers.sandbox.runner import RunResult, run_python


@dataclass
class CaseResult:
    """``status`` is ok/passed/wrong_answer or a runner failure family."""

    status: str
    output: Any  # stdout text, or the decoded return value for call-based runs
    stderr_tail: str
    wall_s: float
    isolation: list[str]
    infra_error: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def as_call_input(value: Any) -> str:
    """Call-based inputs are JSON arrays of positional args; accept parsed lists too."""
    return value if isinstance(value, str) else json.dumps(value)


def run_case(
    source: str, test_input: str, config: SandboxConfig, fn_name: str | None = None,
    expected: str | None = None, retries: int = 2,
) -> CaseResult:
    """Run ``source`` on one input; judge against ``expected`` when given (else status ok)."""
    stdin = test_input.encode("utf-8", "surrogatepass")
    for _ in range(retries + 1):
        result = run_python(source, stdin, config, fn_name=fn_name)
        if result.infra_error is None:
            break
    return _judge(result, config, fn_name, expected)


def _judge(result: RunResult, config: SandboxConfig, fn_name: str | None, expected: str | None) -> CaseResult:
    status = result.status(config.time_limit_s)
    tail = result.stderr[-600:].decode("utf-8", "replace")
    output: Any = None
    if status == "ok":
        if fn_name:
            ok, output = parse_call_result(result.stdout)
            if not ok:
                status = "wrong_answer"  # not JSON data (or the program wrote garbage)
        else:
            output = result.stdout.decode("utf-8", "replace")
        if status == "ok" and expected is not None:
            status = "passed" if _matches(output, expected, fn_name) else "wrong_answer"
    return CaseResult(status, output, tail, result.wall_s, result.isolation, result.infra_error)


def _matches(output: Any, expected: str, fn_name: str | None) -> bool:
    if not fn_name:
        return outputs_match(output, expected)
    try:
        want = json.loads(expected) if isinstance(expected, str) else expected
    except ValueError:
        return False
    return values_match(output, want)
