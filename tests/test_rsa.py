"""Markovian RSA (cascade/rsa.py) with a fake policy, the rsa/aggregate env, and a CLI smoke test."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cascade.rsa import (
    RSAConfig,
    build_aggregation_prompt,
    extract_answer_key,
    majority_vote,
    make_tail_fn,
    run_rsa,
    run_rsa_many,
    select_tails,
    write_rollouts,
)
from envs import get_env
from envs.rsa import DEFAULT_ROLLOUTS, AggregationTemplate, load_rollout_rows, load_template, user_text
from verifiers import get_verifier, verify_safely
from verifiers.pool import LocalVerifierPool

ROOT = Path(__file__).resolve().parents[1]
PROBLEM = "What is 2+3? Put your final answer in \\boxed{}."


class WordTokenizer:
    """One token per whitespace-separated word: tail lengths can be counted by hand."""

    def encode(self, text: str, add_special_tokens: bool = False) -> list[str]:
        return text.split()

    def decode(self, ids: list[str], skip_special_tokens: bool = True) -> str:
        return " ".join(ids)


class FakePolicy:
    """Round 0: rollout i of a call answers ANSWERS[i]; aggregation prompts: the candidates' majority."""

    ANSWERS = ["5", "5", "6", "7", "6", "5"]

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], int]] = []

    def __call__(self, prompts: list[str], max_new_tokens: int) -> list[str]:
        self.calls.append((list(prompts), max_new_tokens))
        out = []
        for i, p in enumerate(map(user_text, prompts)):
            if "Candidate 1:" in p:
                seen = re.findall(r"\\boxed\{(\d+)\}", p.split("Candidate 1:", 1)[1])
                ans = majority_vote(seen)[0] or "0"
            else:
                ans = self.ANSWERS[i % len(self.ANSWERS)]
            out.append(f"rollout {len(self.calls)}.{i} thinks a lot of words here so the tail is cut \\boxed{{{ans}}}")
        return out


def _run(cfg: RSAConfig) -> tuple[FakePolicy, object]:
    fake = FakePolicy()
    return fake, run_rsa(None, WordTokenizer(), PROBLEM, cfg, generate_fn=fake)


def test_round_structure_budgets_and_population_sizes() -> None:
    cfg = RSAConfig(n=6, c=3, t=3, budget=77, tail=5, seed=1)
    fake, res = _run(cfg)
    assert len(fake.calls) == 3 and len(res.rounds) == 3
    assert all(budget == 77 for _, budget in fake.calls)
    assert all(len(prompts) == 6 for prompts, _ in fake.calls)
    assert all(len(r.completions) == len(r.tails) == len(r.answers) == 6 for r in res.rounds)
    assert fake.calls[0][0] == [PROBLEM] * 6  # round 0 is the bare problem


def test_aggregation_prompts_hold_problem_and_exactly_c_previous_tails() -> None:
    fake, res = _run(RSAConfig(n=6, c=3, t=3, budget=16, tail=5, seed=1))
    for r in (1, 2):
        prev, rnd = res.rounds[r - 1], res.rounds[r]
        assert len(rnd.parents) == 6
        for prompt, parents in zip(rnd.prompts, rnd.parents):
            assert prompt.startswith(PROBLEM)
            assert len(parents) == 3 and len(set(parents)) == 3
            blocks = re.findall(r"Candidate (\d+):\n\.\.\.(.*?)(?:\n\n|$)", prompt)
            assert [int(i) for i, _ in blocks] == [1, 2, 3]
            assert [b for _, b in blocks] == [prev.tails[j] for j in parents]
            assert "Candidate 4:" not in prompt
            assert not any(c in prompt for c in prev.completions)  # only tails cross rounds


def test_many_problems_share_each_round_s_generate_call() -> None:
    problems = [f"Problem {k}: what is {k}+{k}?" for k in range(3)]
    fake = FakePolicy()
    results = run_rsa_many(None, WordTokenizer(), problems, RSAConfig(n=4, c=2, t=3, budget=8, tail=6), fake)
    assert [len(p) for p, _ in fake.calls] == [12, 12, 12]
    for problem, res in zip(problems, results):
        assert res.problem == problem and len(res.rounds) == 3
        for prev, rnd in zip(res.rounds, res.rounds[1:]):
            for prompt, parents in zip(rnd.prompts, rnd.parents):
                assert prompt.startswith(problem)
                assert all(f"...{prev.tails[j]}" in prompt for j in parents)
    assert results[0].to_dict() == run_rsa(None, WordTokenizer(), problems[0], RSAConfig(n=4, c=2, t=3, budget=8, tail=6),
                                          FakePolicy()).to_dict()  # alone or batched, same rounds


def test_chat_problems_keep_their_system_message() -> None:
    chat = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": PROBLEM}]
    fake = FakePolicy()
    res = run_rsa(None, WordTokenizer(), chat, RSAConfig(n=2, c=2, t=2, budget=8, tail=4, final_aggregate=True), fake)
    assert res.problem == PROBLEM
    assert fake.calls[0][0] == [chat, chat]
    for prompts, _ in fake.calls[1:]:
        for p in prompts:
            assert p[0] == chat[0] and p[1]["role"] == "user" and p[1]["content"].startswith(PROBLEM)
            assert "Candidate 2:" in p[1]["content"]


def test_tails_are_the_last_tau_tokens() -> None:
    _, res = _run(RSAConfig(n=4, c=2, t=2, budget=16, tail=5))
    for r in res.rounds:
        for comp, tail in zip(r.completions, r.tails):
            assert len(tail.split()) <= 5
            assert tail.split() == comp.split()[-5:]
    short = make_tail_fn(WordTokenizer())("two words", 5)
    assert short == "two words"


def test_tail_fits_the_real_tokenizer_even_across_multibyte_cuts() -> None:
    from cascade.tokenizer import build_tiny_tokenizer

    tok = build_tiny_tokenizer()
    tail = make_tail_fn(tok)
    for text in ["é" * 40, "naïve café → résumé ✓ " * 5, "plain ascii text " * 10]:
        for tau in (1, 3, 7):
            assert len(tok.encode(tail(text, tau), add_special_tokens=False)) <= tau
            assert not tail(text, tau).startswith("\ufffd")


def test_vote_and_its_counts() -> None:
    fake, res = _run(RSAConfig(n=6, c=3, t=2, budget=16, tail=4, seed=0))
    assert res.rounds[0].answers == FakePolicy.ANSWERS
    assert res.rounds[0].votes == {"5": 3, "6": 2, "7": 1}
    assert res.answer == majority_vote(res.rounds[-1].answers)[0]
    assert res.votes == res.rounds[-1].votes
    assert extract_answer_key(res.completion) == res.answer


def test_majority_vote_breaks_ties_by_first_appearance() -> None:
    assert majority_vote(["b", "a", None, "a", "b"]) == ("b", {"b": 2, "a": 2})
    assert majority_vote(["a", "b", "b", "a"])[0] == "a"
    assert majority_vote([None, "", None]) == (None, {})
    assert majority_vote(["x", "y", "y"]) == ("y", {"y": 2, "x": 1})


def test_rounds_are_seeded() -> None:
    cfg = RSAConfig(n=6, c=2, t=3, budget=8, tail=3, seed=4)
    a, b = _run(cfg)[1], _run(cfg)[1]
    assert [r.parents for r in a.rounds] == [r.parents for r in b.rounds]
    other = _run(RSAConfig(n=6, c=2, t=3, budget=8, tail=3, seed=5))[1]
    assert [r.parents for r in other.rounds] != [r.parents for r in a.rounds]


def test_final_aggregate_is_one_more_call() -> None:
    fake, res = _run(RSAConfig(n=4, c=2, t=2, budget=9, tail=6, final_aggregate=True))
    assert len(fake.calls) == 3 and len(fake.calls[-1][0]) == 1 and fake.calls[-1][1] == 9
    assert res.aggregate is not None and len(res.aggregate["parents"]) == 2
    assert res.answer == res.aggregate["answer"] == extract_answer_key(res.completion)


def test_select_tails_without_replacement_unless_c_exceeds_n() -> None:
    rng = random.Random(0)
    for _ in range(50):
        picks = select_tails(5, 3, rng)
        assert len(set(picks)) == 3 and all(0 <= p < 5 for p in picks)
    assert len(select_tails(2, 4, rng)) == 4


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="c must be"):
        RSAConfig(c=0)


def test_answer_extraction() -> None:
    assert extract_answer_key("so \\boxed{\\frac{1}{2}}") == "\\frac{1}{2}"
    assert extract_answer_key("x <answer> 42 </answer>") == "42"
    assert extract_answer_key("out:\n```output\n9\n```") == "9"
    assert extract_answer_key("no answer here") is None


def test_template_substitutes_only_its_placeholders() -> None:
    tpl = load_template()
    text = build_aggregation_prompt("Solve {x}: \\boxed{} {candidates}?", ["uses {problem} and \\boxed{3}"], tpl)
    assert text.startswith("Solve {x}: \\boxed{} {candidates}?")
    assert "Candidate 1:\n...uses {problem} and \\boxed{3}" in text
    custom = AggregationTemplate("P={problem} C=[{candidates}]", "<{index}:{tail}>", "|")
    assert build_aggregation_prompt("q", ["a", "b"], custom) == "P=q C=[<1:a>|<2:b>]"


def test_template_file_must_have_both_placeholders(tmp_path: Path) -> None:
    bad = tmp_path / "t.yaml"
    bad.write_text("template: 'only {problem}'\n")
    with pytest.raises(ValueError, match="candidates"):
        load_template(bad)


# ------------------------------------------------------------------ rsa/aggregate env
def test_aggregate_env_keeps_the_base_verifier_and_payload() -> None:
    env = get_env("rsa/aggregate", c=3)
    rows = load_rollout_rows(DEFAULT_ROLLOUTS)
    assert len(rows) >= 20
    for seed in range(12):
        task = env.sample(seed=seed)
        assert task.to_dict() == env.sample(seed=seed).to_dict()  # deterministic
        base = [b for b, _, _ in rows if b.env_id == task.meta["base_env"] and b.seed == task.meta["base_seed"]][0]
        assert (task.verifier, task.payload) == (base.verifier, base.payload)
        text = task.prompt_text()
        assert text.startswith(base.prompt_text()) and text.count("Candidate ") == 3
        assert verify_safely(get_verifier(task.verifier), task.reference, task.payload).correct


def test_shipped_candidates_mix_right_and_wrong_and_labels_hold() -> None:
    labels = []
    for base, rollouts, correct in load_rollout_rows(DEFAULT_ROLLOUTS):
        judge = get_verifier(base.verifier)
        assert [verify_safely(judge, r, base.payload).correct for r in rollouts] == correct
        labels += correct
    assert 0.3 < sum(labels) / len(labels) < 0.8


def test_dataset_rows_resolve_against_the_rollouts_file_from_any_cwd(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # not the repo: the shipped rows name ../math/tiny_arith.jsonl
    shipped = [b for b, _, _ in load_rollout_rows(DEFAULT_ROLLOUTS) if b.env_id.startswith("data/")]
    assert shipped
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "q.jsonl").write_text('{"question": "1+1?", "answer": "2"}\n')
    (tmp_path / "sub" / "r.jsonl").write_text(json.dumps(
        {"env_id": "data/math", "options": {"path": "q.jsonl"}, "rollouts": ["<answer>2</answer>"]}) + "\n")
    (base, _, _), = load_rollout_rows(tmp_path / "sub" / "r.jsonl")
    assert "1+1?" in base.prompt_text()


def test_rollout_file_from_a_policy_feeds_the_env(tmp_path: Path) -> None:
    tasks = [get_env("arith/add").sample(seed=s) for s in range(3)]

    def gen(prompts: list[str], budget: int) -> list[str]:
        return [f"long preamble words {i} then <answer>{i % 3}</answer>" for i in range(len(prompts))]

    out = write_rollouts(tasks, gen, make_tail_fn(WordTokenizer()), 4, 32, 3, tmp_path / "r.jsonl", LocalVerifierPool())
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 3 and all(len(r["rollouts"]) == 4 for r in rows)
    assert all(len(t.split()) <= 3 for r in rows for t in r["rollouts"])
    task = get_env("rsa/aggregate", rollouts_path=str(out), c=2).sample(seed=0)
    assert task.prompt_text().count("Candidate ") == 2 and task.verifier == "exact"
    assert task.payload in [t.payload for t in tasks]


def test_stage3_defaults_mix_in_aggregation_prompts() -> None:
    import stages.math_code_rl as stage

    weights = {e["id"]: e["weight"] for e in stage.KIND.envs}
    assert weights["rsa/aggregate"] == 0.125  # report Table VI, phase 1: math TTC/RSA 12.5%
    assert abs(sum(weights.values()) - 1.0) < 1e-9


# ------------------------------------------------------------------ CLI
def cascade(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cascade.cli", *args], capture_output=True, text=True, timeout=300, cwd=ROOT)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cascade.policy import build_tiny_policy, save_policy

    model, tokenizer = build_tiny_policy()
    return save_policy(model, tokenizer, tmp_path_factory.mktemp("tiny") / "ckpt")


@pytest.mark.slow
def test_cli_rsa_on_the_tiny_model(tiny_checkpoint: Path) -> None:
    proc = cascade("rsa", str(tiny_checkpoint), "--prompt", "What is 2+3?", "--n", "4", "--c", "2", "--t", "2",
                   "--budget", "8", "--tail", "4", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out["config"]["n"] == 4 and out["problem"] == "What is 2+3?"
    assert [r["index"] for r in out["rounds"]] == [0, 1]
    assert all(len(r["answers"]) == 4 for r in out["rounds"])
    assert all(len(p) == 2 for p in out["rounds"][1]["parents"])
    assert "answer" in out and "votes" in out


def test_cli_rsa_usage_errors(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cascade.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["rsa", str(tmp_path), "--prompt", "x", "--dataset", "arith/add"])
    assert res.exit_code == 2 and "exactly one" in res.output
    res = runner.invoke(app, ["rsa", str(tmp_path), "--prompt", "x"])
    assert res.exit_code == 2 and "not a checkpoint" in res.output
    res = runner.invoke(app, ["rsa", "tiny", "--prompt", "x", "--c", "0"])
    assert res.exit_code == 2 and "c must be" in res.output


def test_cli_rsa_rollouts_option_targets_must_be_listed_envs(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cascade.cli import app

    res = CliRunner().invoke(app, ["rsa-rollouts", "tiny", "--out", str(tmp_path / "r.jsonl"), "--env", "arith/add",
                                   "-o", "data/math:path=x.jsonl"])
    assert res.exit_code == 2 and "not one of the --env ids" in res.output
    res = CliRunner().invoke(app, ["rsa-rollouts", "tiny", "--out", str(tmp_path / "r.jsonl"), "--env", "arith/add", "-o", "path=x"])
    assert res.exit_code == 2 and "arith/add" in res.output
