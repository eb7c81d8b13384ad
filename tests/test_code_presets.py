"""Each source preset on a fixture in that source's own schema (tests/fixtures/code):
a correct solution passes and a wrong one fails through envs.code and the ``code``
verifier; TACO/APPS one-element-list outputs are unwrapped; LiveCodeBench's compressed
private tests are decoded without running pickle globals."""

from __future__ import annotations

import base64
import json
import pickle
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envs.base import get_env
from envs.code.compressed import decode_compressed
from envs.code.problems import load_problems, normalise
from verifiers.base import get_verifier
from verifiers.sandbox.mounts import find_bwrap

FIXTURES = Path(__file__).parent / "fixtures" / "code"
needs_bwrap = pytest.mark.skipif(find_bwrap() is None, reason="bubblewrap is not installed")

LCB_RIGHT = {"maxWindowSum": "class Solution:  # List unimported, as in the starter code\n    def maxWindowSum(self, nums: List[int], k: int) -> int:\n"
                             "        return max(sum(nums[i:i + k]) for i in range(len(nums) - k + 1))\n",
             None: "input()\nprint(sum(map(int, input().split())))\n"}
WRONG = {"zeros": "def zeros(n):\n    return n // 5\n",  # right on 0, 6, 30; wrong on 1000
         "divisors": "def divisors(n):\n    return [d for d in range(1, n) if n % d == 0] or [1]\n",
         "maxWindowSum": "class Solution:\n    def maxWindowSum(self, nums, k):\n        return sum(nums[:k])\n",
         None: "a = input().split()\nprint(int(a[-1]))\n"}


def fence(src: str) -> str:
    return f"```python\n{src}```\n"


def tasks(preset: str) -> list:
    """One Task per fixture problem, sampled through the environment."""
    env = get_env("code/problems", path=str(FIXTURES / f"{preset}.jsonl"), preset=preset)
    found = {}
    levels = sorted({p.difficulty for p in env.problems})
    for seed in range(200):
        task = env.sample(seed, levels[seed % len(levels)])
        found.setdefault(task.meta["problem_id"], task)
        if len(found) == len(env.problems):
            break
    assert len(found) == len(env.problems)
    return list(found.values())


def test_fixtures_cover_call_based_and_stdin_rows_where_the_source_has_both():
    kinds = {p: {bool(q.fn_name) for q in load_problems(path=str(FIXTURES / f"{p}.jsonl"), preset=p)}
             for p in ("apps", "taco", "codecontests", "livecodebench")}
    assert kinds == {"apps": {True, False}, "taco": {True, False}, "codecontests": {False},
                     "livecodebench": {True, False}}


@needs_bwrap
@pytest.mark.parametrize("preset", ["apps", "taco", "codecontests", "livecodebench"])
def test_correct_solution_passes_and_wrong_one_fails(preset):
    code = get_verifier("code", time_limit_s=2.0, wall_slack_s=1.0)
    for task in tasks(preset):
        fn = task.payload.get("fn_name")
        problem = next(p for p in get_env("code/problems", path=str(FIXTURES / f"{preset}.jsonl"),
                                           preset=preset).problems if p.id == task.meta["problem_id"])
        right = problem.solutions[0] if problem.solutions else LCB_RIGHT[fn]
        verdict = code.verify(fence(right), task.payload)
        assert verdict.correct, (preset, fn, verdict.reason, verdict.details.get("stderr_tail"))
        wrong = code.verify(fence(WRONG[fn]), task.payload)
        assert not wrong.correct and wrong.reason == "wrong_answer", (preset, fn, wrong.reason)


def test_wrapped_outputs_are_unwrapped_only_where_the_source_wraps_them():
    taco = next(p for p in load_problems(path=str(FIXTURES / "taco.jsonl"), preset="taco") if p.fn_name)
    assert [json.loads(o) for o in taco.outputs] == [[1], [1, 2, 3, 4, 6, 12], [1, 13]]
    apps = next(p for p in load_problems(path=str(FIXTURES / "apps.jsonl"), preset="apps") if p.fn_name)
    assert [json.loads(o) for o in apps.outputs] == [0, 1, 7, 249]
    row = {"question": "q", "input_output": json.dumps({"fn_name": "f", "inputs": [[1]], "outputs": [["a"]]})}
    assert normalise(row, {"call_outputs": "wrapped"}).outputs == ['"a"']  # a string answer stays a string
    assert normalise(row, {}).outputs == ['["a"]']  # no preset: the stored value is the answer


@needs_bwrap
def test_answer_that_is_a_one_element_list_still_rejects_its_element():
    code = get_verifier("code", time_limit_s=2.0, wall_slack_s=1.0)
    task = next(t for t in tasks("taco") if t.payload.get("fn_name"))
    scalar_for_one = "def divisors(n):\n    return 1 if n == 1 else [d for d in range(1, n + 1) if n % d == 0]\n"
    assert code.verify(fence(scalar_for_one), task.payload).reason == "wrong_answer"
    apps = next(t for t in tasks("apps") if t.payload.get("fn_name"))
    wrapped = "def zeros(n):\n    c = 0\n    while n:\n        n //= 5\n        c += n\n    return [c]\n"
    assert code.verify(fence(wrapped), apps.payload).reason == "wrong_answer"  # stricter than upstream


def test_livecodebench_private_tests_are_decoded_with_the_public_ones():
    fn, stdin = load_problems(path=str(FIXTURES / "livecodebench.jsonl"), preset="livecodebench")
    assert fn.fn_name == "maxWindowSum" and [json.loads(i) for i in fn.inputs] == [[[1, 2, 3], 2], [[5, 5], 1], [[7], 1]]
    assert stdin.fn_name is None and stdin.inputs == ["3\n1 2 3\n", "1\n-4\n"]
    assert decode_compressed('[{"input": "1", "output": "1"}]') == [{"input": "1", "output": "1"}]
    assert decode_compressed("not base64 !!") is None and decode_compressed("") is None


class _Hostile:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/zaya-pickle-ran",))


def test_compressed_tests_never_run_pickle_globals(tmp_path):
    marker = Path("/tmp/zaya-pickle-ran")
    marker.unlink(missing_ok=True)
    blob = base64.b64encode(zlib.compress(pickle.dumps([_Hostile()]))).decode()
    assert decode_compressed(blob) is None and not marker.exists()
    row = {"question_content": "q", "public_test_cases": "[]", "private_test_cases": blob}
    assert normalise(row, {"tests": ["public_test_cases", "private_test_cases"]}) is None
    bomb = base64.b64encode(zlib.compress(b"\0" * (1 << 24))).decode()
    assert decode_compressed(bomb) is None


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode()),
                 st.binary(max_size=300).map(lambda b: base64.b64encode(zlib.compress(b)).decode())))
def test_decoding_junk_never_raises(text):
    decode_compressed(text)
    normalise({"question": "q", "private_test_cases": text}, {"tests": ["private_test_cases"]})


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                        st.sampled_from(["input", "output", "testtype", "x"]), inner, max_size=4), max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(JSON)
def test_malformed_test_columns_are_skipped_not_raised(value):
    for column in (value, json.dumps(value)):
        normalise({"question": "q", "t": column}, {"tests": ["t"]})
