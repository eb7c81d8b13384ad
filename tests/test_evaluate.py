"""Held-out evaluation (cascade/evaluate.py): the pass@k estimator and suite metrics on a fixed fake policy."""

from __future__ import annotations

import json
import sys
import types
from collections import Counter
from pathlib import Path

import pytest

from cascade.evaluate import evaluate_suite, evaluate_tasks, load_suite, load_tasks, pass_at_k, suite_names
from envs import get_env
from envs.rsa import user_text
from verifiers.pool import LocalVerifierPool

SUITE_YAML = """
defaults: {n_tasks: 4, n_samples: 4, max_new_tokens: 32, seed_start: 1000000, rsa: {n: 4, c: 2, t: 2, budget: 8, tail: 6}}
suites:
  toy:
    envs:
      - {id: arith/add}
      - {id: arith/mul, difficulty: 2}
  listed:
    heldout_source: fake_heldout_module.HELDOUT
    difficulties: [0, 1]
    envs: [{id: arith/sub}]
"""


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (4, 2, 2, 1 - 1 / 6),  # 1 - C(2,2)/C(4,2)
        (4, 1, 1, 0.25),
        (4, 1, 2, 0.5),  # 1 - C(3,2)/C(4,2) = 1 - 3/6
        (5, 0, 3, 0.0),
        (4, 3, 2, 1.0),  # fewer wrong samples than k
        (10, 3, 5, 1 - 21 / 252),  # 1 - C(7,5)/C(10,5)
        (1, 1, 1, 1.0),
    ],
)
def test_pass_at_k_by_hand(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_rejects_impossible_counts() -> None:
    for n, c, k in [(3, 4, 1), (3, 1, 4), (3, 1, 0)]:
        with pytest.raises(ValueError):
            pass_at_k(n, c, k)


class EvenSeedPolicy:
    """Right every time on tasks with an even seed; on odd seeds only the first sample of a
    call is right, and aggregation prompts (RSA rounds >= 1) are always wrong."""

    def __init__(self, tasks: list) -> None:
        self.tasks = tasks
        self.calls = 0

    def task_of(self, prompt: str):
        return next(t for t in self.tasks if prompt.startswith(t.prompt_text()))

    def __call__(self, prompts: list, max_new_tokens: int) -> list[str]:
        self.calls += 1
        seen: Counter[str] = Counter()
        out = []
        for p in map(user_text, prompts):
            task = self.task_of(p)
            seen[p] += 1
            right = task.seed % 2 == 0 or ("Candidate 1:" not in p and seen[p] == 1)
            answer = task.payload["answer"] if right else f"{task.payload['answer']}9"
            out.append(f"thinking... <answer>{answer}</answer>")
        return out


def _suites(tmp_path: Path) -> Path:
    path = tmp_path / "suites.yaml"
    path.write_text(SUITE_YAML)
    return path


def test_metrics_on_a_fixed_fake_policy(tmp_path: Path) -> None:
    suite = load_suite("toy", _suites(tmp_path))
    tasks = [t for e in suite.envs for t in load_tasks(e.id, 4, e.options, suite.seed_start, e.difficulty)]
    fake = EvenSeedPolicy(tasks)
    result = evaluate_suite(suite, fake, LocalVerifierPool(), k=2, use_rsa=True, tail_fn=lambda text, tau: text[-tau:])
    # seeds 1000000..1000003: two even (4/4 right), two odd (1/4 right)
    for label in ("arith/add@0", "arith/mul@2"):
        row = result["envs"][label]
        assert row["correct"] == [4, 1, 4, 1]
        assert row["pass@1"] == pytest.approx((1 + 0.25 + 1 + 0.25) / 4)  # 0.625
        assert row["pass@2"] == pytest.approx((1 + 0.5 + 1 + 0.5) / 4)  # 0.75
        assert row["rsa"] == pytest.approx(0.5)  # odd seeds: every aggregation is wrong
    assert result["summary"] == pytest.approx({"pass@1": 0.625, "pass@2": 0.75, "rsa": 0.5})
    assert result["n"] == 4 and result["rsa_config"]["n"] == 4
    json.dumps(result)  # the results file is plain JSON


def test_samples_are_raised_to_k_and_one_generate_call_per_env(tmp_path: Path) -> None:
    suite = load_suite("toy", _suites(tmp_path))
    tasks = [t for e in suite.envs for t in load_tasks(e.id, 2, e.options, suite.seed_start, e.difficulty)]
    fake = EvenSeedPolicy(tasks)
    result = evaluate_suite(suite, fake, LocalVerifierPool(), k=6, n_tasks=2)
    assert result["n"] == 6 and fake.calls == 2
    row = result["envs"]["arith/add@0"]
    assert row["correct"] == [6, 1] and row["pass@6"] == pytest.approx(1.0)
    assert row["pass@1"] == pytest.approx((1 + 1 / 6) / 2)
    with pytest.raises(ValueError, match="at least 3"):
        evaluate_tasks(tasks[:1], fake, LocalVerifierPool(), n=2, k=3, max_new_tokens=4)


def test_suite_loading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _suites(tmp_path)
    toy = load_suite("toy", path)
    assert [e.label for e in toy.envs] == ["arith/add@0", "arith/mul@2"]
    assert (toy.n_tasks, toy.max_new_tokens, toy.rsa.c) == (4, 32, 2)
    assert [e.label for e in load_suite("listed", path).envs] == ["arith/sub@0"]  # no published list: fallback
    monkeypatch.setitem(sys.modules, "fake_heldout_module", types.SimpleNamespace(HELDOUT=["arith/add", "arith/mul"]))
    assert [e.label for e in load_suite("listed", path).envs] == ["arith/add@0", "arith/add@1", "arith/mul@0", "arith/mul@1"]
    with pytest.raises(KeyError, match="unknown suite"):
        load_suite("nope", path)


def test_shipped_suites_name_real_environments() -> None:
    names = suite_names()
    assert {"tiny", "rlve-heldout", "reasoning-gym", "math", "code", "instructions"} <= set(names)
    for name in names:
        suite = load_suite(name)
        for env in suite.envs:
            get_env(env.id, **env.options)  # unknown ids or bad options raise here
    tiny = load_suite("tiny")
    for env in tiny.envs:
        assert len(load_tasks(env.id, 2, env.options, tiny.seed_start, env.difficulty)) == 2


def test_cli_eval_unknown_suite_is_a_usage_error() -> None:
    from typer.testing import CliRunner

    from cascade.cli import app

    res = CliRunner().invoke(app, ["eval", "tiny", "--suite", "nope"])
    assert res.exit_code == 2 and "unknown suite" in res.output


@pytest.mark.slow
def test_cli_eval_on_the_tiny_model(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cascade.cli import app

    out = tmp_path / "eval.json"
    res = CliRunner().invoke(app, ["eval", "tiny", "--suite", "tiny", "--k", "1", "--n", "1", "--n-tasks", "1",
                                   "--max-new-tokens", "4", "--out", str(out)])
    assert res.exit_code == 0, res.output[-2000:]
    data = json.loads(out.read_text())
    assert set(data["envs"]) == {"arith/add@0", "data/math@0", "if/simple@0", "code/predict_output@0"}
    assert all(0.0 <= r["pass@1"] <= 1.0 and r["tasks"] == 1 for r in data["envs"].values())


def test_tasks_are_distinct_even_when_an_env_repeats_itself() -> None:
    tasks = load_tasks("code/problems", 8, seed_start=1_000_000)
    assert len(tasks) == 8 and len({t.prompt_text() for t in tasks}) == 8
    assert len(load_tasks("data/math/tiny_arith.jsonl", 3)) == 3  # a data file is judged as math
    assert load_tasks("data/math/tiny_arith.jsonl", 3)[0].verifier == "math"
