"""Code environments: determinism, payload shape, loaders, and that each shipped
reference (and breaking input) passes the verifier its task names."""

from __future__ import annotations

import json

import pytest

from envs.base import get_env, list_envs
from envs.code.problems import load_problems, normalise
from envs.task import Task
from verifiers.base import get_verifier
from verifiers.sandbox.mounts import find_bwrap

IDS = ["code/problems", "code/spec_to_code", "code/predict_output", "code/predict_input", "code/break_solution"]
VERIFIER = {"code/problems": "code", "code/spec_to_code": "code", "code/predict_output": "code_output",
            "code/predict_input": "code_input", "code/break_solution": "code_breaker"}


def test_shipped_set_is_loaded_and_registered():
    problems = load_problems()
    assert len(problems) >= 30
    assert sum(bool(p.wrong_solutions) for p in problems) >= 15 and any(p.fn_name for p in problems)
    assert set(IDS) <= {info.env_id for info in list_envs()}


@pytest.mark.parametrize("env_id", IDS)
def test_sample_is_deterministic_plain_data_and_formatted(env_id):
    env = get_env(env_id)
    a, b = env.sample(7, 1), env.sample(7, 1)
    assert a == b and a.verifier == VERIFIER[env_id] and a.env_id == env_id
    assert Task.from_dict(json.loads(a.to_json())) == a
    assert "```" in a.prompt_text().splitlines()[-1] or "fenced" in a.prompt_text().splitlines()[-1]
    assert len({env.sample(s, d).meta["problem_id"] for s in range(20) for d in range(3)}) > 3


def test_spec_to_code_judges_only_held_out_tests():
    task = get_env("code/spec_to_code").sample(3, 1)
    problem = next(p for p in load_problems() if p.id == task.meta["problem_id"])
    assert len(task.payload["inputs"]) == len(problem.inputs) - 2


@pytest.mark.skipif(find_bwrap() is None, reason="bubblewrap is not installed")
@pytest.mark.parametrize("env_id", IDS)
def test_references_pass_their_verifier(env_id):
    env = get_env(env_id)
    verifier = get_verifier(VERIFIER[env_id], time_limit_s=4.0)
    seen = set()
    for seed in range(40):
        task = env.sample(seed, seed % 4)
        if task.reference is None or task.meta["problem_id"] in seen:
            continue
        seen.add(task.meta["problem_id"])
        verdict = verifier.verify(task.reference, task.payload)
        assert verdict.correct, (task.meta, verdict.reason, verdict.details.get("stderr_tail"))
        if len(seen) >= 6:
            break
    assert seen


@pytest.mark.skipif(find_bwrap() is None, reason="bubblewrap is not installed")
def test_known_wrong_solutions_fail_the_code_verifier():
    verifier = get_verifier("code", time_limit_s=4.0)
    for p in [p for p in load_problems() if p.wrong_solutions][:6]:
        verdict = verifier.verify(f"```python\n{p.wrong_solutions[0]}\n```", p.payload())
        assert not verdict.correct and verdict.reason == "wrong_answer", p.id


def test_jsonl_and_parquet_with_column_mapping(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rows = [{"name": "x", "description": "add", "public_tests": {"input": ["1 2\n"], "output": ["3\n"]},
             "solutions": {"language": [1, 3], "solution": ["print 3", "print(3)"]},
             "time_limit": {"seconds": 2, "nanos": 500000000}, "memory_limit_bytes": 268435456}]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "cc.parquet")
    (p,) = load_problems(path=str(tmp_path / "cc.parquet"), preset="codecontests")
    assert (p.id, p.question, p.inputs, p.solutions) == ("x", "add", ["1 2\n"], ["print(3)"])
    assert p.time_limit_s == 2.5 and p.memory_limit_mb == 256
    lcb = {"question_content": "q", "question_id": "7", "metadata": json.dumps({"func_name": "f"}),
           "public_test_cases": json.dumps([{"input": "[1,2]\n3", "output": "4", "testtype": "functional"}])}
    (tmp_path / "lcb.jsonl").write_text(json.dumps(lcb) + "\n")
    (q,) = load_problems(path=str(tmp_path / "lcb.jsonl"), preset="livecodebench")
    assert q.fn_name == "f" and json.loads(q.inputs[0]) == [[1, 2], 3]
    apps = {"question": "q", "input_output": json.dumps({"inputs": ["1\n"], "outputs": ["1\n"]}),
            "solutions": json.dumps(["print(input())"]), "difficulty": "interview"}
    r = normalise(apps, {})
    assert r is not None and r.difficulty == 1 and r.solutions == ["print(input())"]
    assert normalise({"question": "no tests"}, {}) is None
    env = get_env("code/problems", path=str(tmp_path / "cc.parquet"), preset="codecontests")
    assert env.sample(0).payload == {"inputs": ["1 2\n"], "outputs": ["3\n"], "time_limit_s": 2.5,
                                     "memory_limit_mb": 256}
