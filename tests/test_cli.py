"""The CLI from the outside, as a new user would call it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def cascade(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cascade.cli", *args], capture_output=True, text=True, timeout=300)


def test_envs_list_json_shows_every_source_with_difficulty_ranges():
    proc = cascade("envs", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    envs = json.loads(proc.stdout)
    assert len(envs) >= 500
    sources = {e["source"] for e in envs}
    assert {"rlve", "rg", "builtin"} <= sources
    assert sum(e["source"] == "rlve" for e in envs) == 400
    assert all("min_difficulty" in e and "max_difficulty" in e for e in envs)


def test_envs_sample_is_reproducible_and_verifies_with_its_payload(tmp_path):
    args = ("envs", "sample", "rlve/Multiplication", "--difficulty", "3", "--seed", "1", "--json")
    first, second = cascade(*args), cascade(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    task = json.loads(first.stdout)
    assert task["verifier"] == "rlve" and task["difficulty"] == 3 and task["prompt"]
    (tmp_path / "p.json").write_text(json.dumps(task["payload"]))
    (tmp_path / "right.txt").write_text(task["reference"])
    (tmp_path / "wrong.txt").write_text("<answer>7</answer>")
    right = cascade("verify", "rlve", "--payload", str(tmp_path / "p.json"), "--completion", str(tmp_path / "right.txt"))
    wrong = cascade("verify", "rlve", "--payload", str(tmp_path / "p.json"), "--completion", str(tmp_path / "wrong.txt"))
    assert right.returncode == wrong.returncode == 0
    assert json.loads(right.stdout)["correct"] is True
    assert json.loads(wrong.stdout)["correct"] is False and json.loads(wrong.stdout)["reward"] == 0.0


def test_verify_math_prints_exactly_one_json_verdict(tmp_path):
    (tmp_path / "p.json").write_text('{"answer": "\\\\frac{1}{2}"}')
    (tmp_path / "c.txt").write_text("so the answer is \\boxed{0.5}")
    proc = cascade("verify", "math", "--payload", str(tmp_path / "p.json"), "--completion", str(tmp_path / "c.txt"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    verdict = json.loads(lines[0])
    assert verdict["correct"] is True and verdict["reward"] == 1.0 and verdict["reason"] == "correct"


@pytest.mark.parametrize(
    ("verifier", "payload", "message"),
    [
        ("nope", '{"answer": "1"}', "unknown verifier 'nope'"),
        ("math", "[1, 2]", "expected a JSON object, got list"),
        ("math", "{not json", "invalid JSON"),
        ("math", None, "No such file"),
    ],
)
def test_verify_bad_invocations_exit_2_with_one_line(tmp_path, verifier, payload, message):
    (tmp_path / "c.txt").write_text("\\boxed{1}")
    path = tmp_path / "p.json"
    if payload is not None:
        path.write_text(payload)
    proc = cascade("verify", verifier, "--payload", str(path), "--completion", str(tmp_path / "c.txt"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr


def test_unknown_env_exits_2():
    proc = cascade("envs", "sample", "rlve/NoSuchEnvironment")
    assert proc.returncode == 2 and "unknown" in proc.stderr.lower()


def test_verify_code_leaves_no_process_behind(tmp_path):
    probe = f"zaya-leftover-{tmp_path.name}"
    (tmp_path / "p.json").write_text(json.dumps({"inputs": ["2\n"], "outputs": ["4\n"]}))
    (tmp_path / "c.txt").write_text(
        "```python\nimport subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)  # {probe}'], start_new_session=True)\n"
        "print(int(input()) * 2)\n```\n"
    )
    proc = cascade("verify", "code", "--payload", str(tmp_path / "p.json"), "--completion", str(tmp_path / "c.txt"))
    assert proc.returncode == 0, proc.stderr
    verdict = json.loads(proc.stdout)
    assert verdict["correct"] is True and "bwrap" in verdict["details"]["isolation"]
    leftovers = subprocess.run(["pgrep", "-f", probe], capture_output=True, text=True)
    assert leftovers.stdout.strip() == "", leftovers.stdout
