"""RLVE-Gym adapter + "rlve" verifier: ids, reproducibility across processes, scoring, RNG hygiene."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import numpy as np
import pytest

from envs import Task, get_env, list_envs
from envs.generated import decode_jsonable, encode_jsonable
from envs.rlve import ANSWER_INSTRUCTION
from verifiers import get_verifier, verify_safely

JUNK = ["", "I don't know", "<answer></answer>", "<answer>" + "9" * 5000 + "</answer>", "<answer>\x00💥</answer>",
        "x" * 300_000, "<answer>-1</answer><answer>", "Assistant: <answer>nan</answer>"]


def test_listing_has_400_rlve_and_all_rg_ids():
    infos = list_envs()
    rlve = [i for i in infos if i.source == "rlve"]
    rg = [i for i in infos if i.source == "rg"]
    assert len(rlve) == 400 and all(i.env_id.startswith("rlve/") for i in rlve)
    assert len(rg) >= 100 and "rg/leg_counting" in {i.env_id for i in rg}
    assert len(rlve) + len(rg) >= 500


def test_multiplication_reference_is_correct_and_junk_is_not():
    task = get_env("rlve/Multiplication").sample(seed=7, difficulty=3)
    assert task.prompt.endswith(ANSWER_INSTRUCTION)
    assert task.payload["env"] == "Multiplication" and task.difficulty == 3
    a, b = task.payload["config"]["parameter"]["a"], task.payload["config"]["parameter"]["b"]
    assert task.reference == f"<answer>{a * b}</answer>"
    json.dumps(task.payload)  # JSON-serialisable
    verifier = get_verifier("rlve")
    good = verify_safely(verifier, "Let me think. " + task.reference, task.payload)
    assert good.correct and good.reward == 1.0 and good.extracted == str(a * b)
    wrong = verify_safely(verifier, f"<answer>{a * b + 1}</answer>", task.payload)
    assert not wrong.correct and wrong.reward == 0.0 and wrong.reason == "wrong_answer"
    for junk in JUNK:
        v = verify_safely(verifier, junk, task.payload)
        assert not v.correct and v.reward == 0.0 and v.reason != "verifier_error", junk[:40]


def test_verifier_regenerates_without_config_and_rejects_bad_payloads():
    task = get_env("rlve/Multiplication").sample(seed=3, difficulty=1)
    slim = {k: v for k, v in task.payload.items() if k != "config"}
    verifier = get_verifier("rlve")
    assert verify_safely(verifier, task.reference, slim).correct
    for bad in ({}, {"env": "NoSuch", "difficulty": 0, "seed": 0}, {"env": "Multiplication", "config": 5}):
        v = verify_safely(verifier, task.reference, bad)
        assert v.reason == "bad_payload" and v.reward == 0.0


def test_binary_mode_and_difficulty_grows_problem():
    easy = get_env("rlve/Multiplication").sample(seed=1, difficulty=0)
    hard = get_env("rlve/Multiplication").sample(seed=1, difficulty=6)
    assert easy.payload["config"]["parameter"]["digit_num"] == 2
    assert hard.payload["config"]["parameter"]["digit_num"] == 8
    assert get_verifier("rlve", mode="binary").verify(hard.reference, hard.payload).reward == 1.0


def test_shaped_reward_passes_partial_scores_through():
    env = get_env("rlve/Axis_KCenter")  # scored as (optimum/answer)^beta; no reference answer
    task = env.sample(seed=0, difficulty=2)
    assert task.reference is None
    k = task.payload["config"]["parameter"]["K"]
    v = verify_safely(get_verifier("rlve"), "<answer>" + " ".join(map(str, range(k))) + "</answer>", task.payload)
    assert v.reason in ("correct", "wrong_answer") and 0.0 <= v.reward <= 1.0
    assert v.details["format_score"] == 1


def test_generation_restores_global_rngs():
    import torch

    random.seed(123)
    np.random.seed(123)
    torch.manual_seed(123)
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(123)
    np.random.seed(123)
    torch.manual_seed(123)
    task = get_env("rlve/Multiplication").sample(seed=99, difficulty=2)
    verify_safely(get_verifier("rlve"), task.reference, {k: v for k, v in task.payload.items() if k != "config"})
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_same_task_in_another_process():
    specs = [("rlve/Multiplication", 11, 2), ("rlve/Binario", 5, 3), ("rlve/Axis_KCenter", 2, 4), ("rg/leg_counting", 4, 2)]
    here = [get_env(e).sample(seed=s, difficulty=d).to_json() for e, s, d in specs]
    code = (
        "import json,sys\nfrom envs import get_env\n"
        f"specs={specs!r}\n"
        "print(json.dumps([get_env(e).sample(seed=s, difficulty=d).to_json() for e,s,d in specs]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    there = json.loads(out.stdout.strip().splitlines()[-1])
    assert there == here
    assert len({Task.from_dict(json.loads(t)).prompt for t in here}) == len(specs)


@pytest.mark.parametrize(
    "value",
    [(1, 2), {3: "a", (1, 2): [4]}, [(1, (2, 3)), {"k": (5,)}], {"__tuple__": 1}, {1, 2}],
)
def test_tagged_json_round_trips(value):
    encoded = encode_jsonable(value)
    assert decode_jsonable(json.loads(json.dumps(encoded))) == value
