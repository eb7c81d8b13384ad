"""Judging semantics of the code verifiers: extraction, comparison rules, reasons,
limits, and forged passes. Runs real sandboxes with small limits."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sandbox_leftovers import no_sandbox_leftovers

from verifiers.base import get_verifier, verify_safely
from verifiers.sandbox.judge import extract_code, outputs_match, values_match
from verifiers.sandbox.mounts import find_bwrap

needs_bwrap = pytest.mark.skipif(find_bwrap() is None, reason="bubblewrap is not installed")
# A uid range of its own: the leftover check sees this module's sandboxes only, not those of tests
# running at the same time on the other pytest-xdist worker.
FAST = {"time_limit_s": 1.0, "wall_slack_s": 0.5, "memory_limit_mb": 128, "uid_base": 310_000, "uid_span": 10_000}
ADD = {"inputs": ["1 2\n", "3 4\n"], "outputs": ["3\n", "7\n"]}


@pytest.fixture(autouse=True)
def verifying_leaves_no_process_behind():
    with no_sandbox_leftovers(FAST["uid_base"], FAST["uid_span"]):
        yield


def py(src: str) -> str:
    return f"Here you go:\n```python\n{src}\n```\n"


@pytest.fixture(scope="module")
def code():
    return get_verifier("code", **FAST)


# --- pure rules (no sandbox) -------------------------------------------------------

def test_extraction_takes_the_last_python_block_and_ignores_later_other_blocks():
    text = "```python\nprint(1)\n```\nbetter:\r\n```python\r\nprint(2)\r\n```\r\n```text\nprint(3)\n```\n"
    assert extract_code(text) == "print(2)\n"
    assert extract_code("print(5)") == "print(5)"  # no fence: the whole text
    assert extract_code("```python\n\n```") is None and extract_code("  \n") is None


@pytest.mark.parametrize("got,want,ok", [
    ("3\n", "3", True), ("3   \n\n\n", "3\n", True), ("\n3\n", "3\n", False),
    ("3\ndebug\n", "3\n", False), ("Yes", "YES", False), ("3.0", "3", False),
    ("0.3333333", "0.333333333", True), ("3.3333334e-1", "0.33333333", True),
    ("1 2.0000000001", "1 2", False), ("1 2.0000000001", "1 2.0", True),
    ("100000001.0", "100000000.5", True), ("abc 1", "abc  1", True), ("1 2", "1 2 3", False),
])
def test_stdout_comparison_rules(got, want, ok):
    assert outputs_match(got, want) is ok


def test_structural_comparison_rules():
    assert values_match((1, [2, 3]), [1, [2, 3]])
    assert values_match({"a": 1.0000000001}, {"a": 1.0})
    assert not values_match({"a": 1, "b": 2}, {"a": 1})
    assert not values_match(3.0, 3) and not values_match(True, 1) and not values_match("1", 1)


@given(st.text(max_size=300))
@settings(max_examples=200, deadline=None)
def test_rules_never_raise_on_junk(text):
    extract_code(text)
    outputs_match(text, "1 2.5\nabc")


# --- sandboxed judging ---------------------------------------------------------------

@needs_bwrap
def test_right_wrong_crashing_and_slow(code):
    right = code.verify(py("a, b = map(int, input().split())\nprint(a + b)"), ADD)
    assert right.correct and right.reward == 1.0 and right.reason == "passed"
    assert "bwrap" in right.details["isolation"] and right.details["infra_error"] is False
    assert code.verify(py("print(3)"), ADD).reason == "wrong_answer"
    assert code.verify(py("raise ValueError('boom')"), ADD).reason == "runtime_error"
    assert code.verify(py("def f(:\n  pass"), ADD).reason == "syntax_error"
    assert code.verify("I cannot solve this.\n```python\n```", ADD).reason == "no_code"
    slow = code.verify(py("while True: pass"), {**ADD, "time_limit_s": 0.5})
    # on an overloaded machine a starved loop is an infra failure (never learned from) instead
    assert not slow.correct and (slow.reason == "timeout" or slow.details["infra_error"])


@needs_bwrap
def test_limits_from_the_payload(code):
    hog = py("x = bytearray(200 * 1024 * 1024)\nprint(3)")
    assert code.verify(hog, {**ADD, "memory_limit_mb": 32}).reason == "memory_limit"
    flood = code.verify(py("while True: print('x' * 4096)"), ADD)
    assert flood.reason == "output_limit"
    sleeper = code.verify(py("import time\ntime.sleep(20)"), {**ADD, "time_limit_s": 0.3})
    assert sleeper.reason == "timeout"


@needs_bwrap
def test_exit_status_rules(code):
    # non-zero exit after a correct answer is a runtime error; stderr noise with exit 0 is fine
    late = py("import sys\na, b = map(int, input().split())\nprint(a + b)\nsys.stdout.flush()\nsys.exit(3)")
    assert code.verify(late, ADD).reason == "runtime_error"
    noisy = py("import sys\na, b = map(int, input().split())\nprint(a + b)\nsys.stderr.write('Traceback: fail\\n')")
    assert code.verify(noisy, ADD).correct


@needs_bwrap
@pytest.mark.parametrize("ending", ["exit(0)", "exit()", "quit()", "quit(0)", "raise SystemExit"])
def test_exit_and_quit_after_a_full_answer_pass(code, ending):
    # The sandbox runs python -S (no site), so the prelude supplies site's exit/quit builtins.
    src = py(f"a, b = map(int, input().split())\nprint(a + b)\n{ending}\nprint('unreachable')")
    assert code.verify(src, ADD).correct
    assert code.verify(py("print(0)\nexit(0)"), ADD).reason == "wrong_answer"
    assert code.verify(py("a, b = map(int, input().split())\nprint(a + b)\nquit(2)"), ADD).reason == "runtime_error"


@needs_bwrap
def test_forged_passes_do_not_work(code):
    for src in [
        "print('All tests passed')",
        "import os\nos._exit(0)\nprint(3)",  # exits before printing the answer
        "import sys\nsys.stderr.write('3\\n7\\n')",
        "print(open('/sandbox/expected.txt').read())",
        "import os\nprint(os.listdir('/sandbox'), os.listdir('/tmp'))",
    ]:
        verdict = code.verify(py(src), ADD)
        assert not verdict.correct and verdict.reward == 0.0, src


@needs_bwrap
def test_call_based_solution_class_and_function(code):
    payload = {"inputs": ["[[1, 2], 3]", "[[], 0]"], "outputs": ["[[1, 2], 3]", "[[], 0]"], "fn_name": "f"}
    cls = "class Solution:\n    def f(self, a, b):\n        print('debug goes to stderr')\n        return (a, b)"
    assert code.verify(py(cls), payload).correct  # tuples equal lists; prints do not matter
    assert code.verify(py("def f(a, b):\n    return [a, b]"), payload).correct
    assert code.verify(py("def f(a, b):\n    return {1, 2}"), payload).reason == "wrong_answer"  # not JSON
    assert code.verify(py("def f(a, b):\n    return [a, float(b)]"), payload).reason == "wrong_answer"
    assert code.verify(py("def g(a, b):\n    return [a, b]"), payload).reason == "runtime_error"
    floats = {"inputs": ["[1, 3]"], "outputs": ["0.3333333333"], "fn_name": "div"}
    assert code.verify(py("def div(a, b):\n    return a / b"), floats).correct
    dicts = {"inputs": ['["a b a"]'], "outputs": ['{"b": 1, "a": 2}'], "fn_name": "freq"}
    src = "from collections import Counter\ndef freq(t):\n    return dict(Counter(t.split()))"
    assert code.verify(py(src), dicts).correct


@needs_bwrap
def test_deep_recursion_with_big_stack_thread_works(code):
    src = ("import sys, threading\nsys.setrecursionlimit(10**6)\nthreading.stack_size(64 * 1024 * 1024)\n"
           "def f(n):\n    return 0 if n == 0 else 1 + f(n - 1)\n"
           "def main():\n    print(f(int(input())))\nt = threading.Thread(target=main)\nt.start()\nt.join()")
    verdict = code.verify(py(src), {"inputs": ["200000\n"], "outputs": ["200000\n"]})
    assert verdict.correct, verdict.details


@needs_bwrap
def test_partial_credit_stays_below_one_and_first_failure_stops():
    partial = get_verifier("code", partial_credit=True, stop_at_first_failure=False, **FAST)
    payload = {"inputs": ["1\n", "2\n", "3\n"], "outputs": ["1\n", "2\n", "4\n"]}
    verdict = partial.verify(py("print(input())"), payload)
    assert not verdict.correct and 0.6 < verdict.reward < 1.0 and verdict.details["tests_passed"] == 2
    strict = get_verifier("code", **FAST).verify(py("print(5)"), payload)
    assert strict.reward == 0.0 and len(strict.details["tests"]) == 1


@needs_bwrap
def test_infra_failure_is_marked_not_blamed_on_the_model(monkeypatch, code):
    import verifiers.sandbox.cases as cases
    from verifiers.sandbox.runner import RunResult

    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        return RunResult(b"", b"bwrap: boom", None, 0.0, 0.0, infra_error="sandbox did not start")

    monkeypatch.setattr(cases, "run_python", broken)
    verdict = code.verify(py("print(3)"), ADD)
    assert verdict.reason == "sandbox_error" and verdict.details["infra_error"] is True
    assert len(calls) == 3  # retried


@needs_bwrap
def test_aux_verifiers():
    out = get_verifier("code_output")
    assert out.verify("It prints\n```output\n3\n```", {"expected_output": "3\n"}).correct
    assert out.verify("```output\n4\n```", {"expected_output": "3\n"}).reason == "wrong_answer"
    assert out.verify("no block", {"expected_output": "3\n"}).reason == "no_answer"
    ref = "a, b = map(int, input().split())\nprint(a + b)\n"
    inp = get_verifier("code_input", **FAST)
    assert inp.verify("```input\n2 5\n```", {"reference": ref, "target_output": "7\n"}).correct
    assert inp.verify("```input\n2 6\n```", {"reference": ref, "target_output": "7\n"}).reason == "wrong_answer"
    assert inp.verify("```input\nxyz\n```", {"reference": ref, "target_output": "7\n"}).reason == "invalid_input"
    brk = get_verifier("code_breaker", **FAST)
    wrong = "a, b = map(int, input().split())\nprint(abs(a + b))\n"
    pay = {"reference": ref, "wrong": wrong}
    assert brk.verify("```input\n-3 1\n```", pay).correct
    assert brk.verify("```input\n3 1\n```", pay).reason == "not_broken"
    assert brk.verify("```input\nnot numbers\n```", pay).reason == "invalid_input"


@needs_bwrap
@given(st.text(max_size=200))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_junk_completions_never_raise(code, junk):
    verdict = verify_safely(code, junk, ADD)
    assert not verdict.correct and verdict.reason != "verifier_error"
    json.dumps(verdict.to_dict())


_JUNK = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                     max_leaves=8)


@needs_bwrap
@given(st.dictionaries(st.sampled_from(["inputs", "outputs", "fn_name", "time_limit_s", "memory_limit_mb"]), _JUNK))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_junk_payloads_never_raise_and_bad_ones_say_why(code, payload):
    verdict = code.verify(py("print(1)"), payload)
    assert verdict.reason != "verifier_error"
    if verdict.reason == "bad_payload":
        assert isinstance(verdict.details["error"], str) and verdict.details["error"]
