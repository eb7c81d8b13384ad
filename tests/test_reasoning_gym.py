"""reasoning-gym adapter + "rg" verifier: levels as difficulty, references, junk, regeneration."""

from __future__ import annotations

import json

import pytest

from envs import get_env
from envs.reasoning_gym import ANSWER_INSTRUCTION, rg_max_level, rg_names
from verifiers import get_verifier, verify_safely

DATASETS = ["leg_counting", "basic_arithmetic", "word_sorting", "mini_sudoku", "prime_factorization", "gsm_symbolic"]
JUNK = ["", "no tags at all", "<answer></answer>", "<answer>zzz</answer>", "<answer>" + "1" * 10_000 + "</answer>",
        "<answer>\x00</answer>", "x" * 300_000]


def test_all_datasets_listed_with_their_levels():
    names = rg_names()
    assert len(names) >= 100 and "composite" not in names
    env = get_env("rg/leg_counting")
    assert env.max_difficulty == rg_max_level("leg_counting") > 5
    assert get_env("rg/gsm_symbolic").max_difficulty == 0  # no curriculum: one level


@pytest.mark.parametrize("name", DATASETS)
def test_reference_scores_correct_and_junk_wrong(name):
    env = get_env(f"rg/{name}")
    task = env.sample(seed=3, difficulty=min(2, env.max_difficulty))
    assert task.prompt.endswith(ANSWER_INSTRUCTION)
    assert task.reference and task.reference.startswith("<answer>")
    json.dumps(task.payload)
    verifier = get_verifier("rg")
    good = verify_safely(verifier, "thinking...\n" + task.reference, task.payload)
    assert good.correct and good.reward == 1.0, good
    for junk in JUNK:
        v = verify_safely(verifier, junk, task.payload)
        assert not v.correct and v.reward < 1.0 and v.reason != "verifier_error", (junk[:30], v)


def test_difficulty_levels_change_the_config():
    env = get_env("rg/leg_counting")
    easy, hard = env.sample(seed=1, difficulty=0), env.sample(seed=1, difficulty=env.max_difficulty)
    assert easy.payload["config"] != hard.payload["config"]
    assert env.sample(seed=1, difficulty=999).difficulty == env.max_difficulty  # clamped
    assert env.sample(seed=1, difficulty=0).to_json() == easy.to_json()  # deterministic


def test_verifier_regenerates_entry_when_payload_lacks_it():
    task = get_env("rg/basic_arithmetic").sample(seed=8, difficulty=1)
    slim = {k: v for k, v in task.payload.items() if k not in ("entry", "config", "answer")}
    verifier = get_verifier("rg")
    assert verify_safely(verifier, task.reference, slim).correct
    assert verify_safely(verifier, task.reference, {"dataset": "nope", "seed": 0}).reason == "bad_payload"
