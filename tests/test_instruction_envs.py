"""Instruction environments: determinism, constraint counts and pools, valid kwargs, references."""

from __future__ import annotations

import json
import random

import pytest

from envs import Task, get_env, list_envs
from envs.instructions import CATALOGUE, EASY_IDS, InstructionEnv, load_prompts
from envs.instructions.env import SHIPPED_PROMPTS
from verifiers.instructions import IFBENCH_IDS, IFEVAL_IDS, InstructionsVerifier, checker_ids, parse_payload

VERIFIER = InstructionsVerifier()


def _ids(task: Task) -> list[str]:
    return task.payload["instruction_id_list"]


def test_registered_and_listed():
    listed = {info.env_id for info in list_envs(source="instructions")}
    assert {"if/simple", "if/hard"} <= listed


def test_shipped_prompts_are_many_and_distinct():
    prompts = load_prompts(SHIPPED_PROMPTS)
    assert 50 <= len(prompts) == len(set(prompts))


@pytest.mark.parametrize("env_id", ["if/simple", "if/hard"])
def test_sample_is_deterministic(env_id):
    a, b = get_env(env_id), get_env(env_id)
    for seed in range(20):
        assert a.sample(seed, 1).to_json() == b.sample(seed, 1).to_json()
    assert len({a.sample(seed).to_json() for seed in range(20)}) > 15


def test_task_shape_and_payload_format():
    task = get_env("if/simple").sample(7)
    assert task.verifier == "instructions" and task.env_id == "if/simple"
    assert task.prompt[0]["role"] == "user" and task.prompt_text() == task.payload["prompt"]
    assert task.prompt_text().startswith(task.meta["base_prompt"])
    assert len(task.payload["kwargs"]) == len(_ids(task))
    json.loads(task.to_json())  # plain JSON data


def test_constraint_counts_and_pools():
    simple, hard = get_env("if/simple"), get_env("if/hard")
    for seed in range(60):
        s, h = simple.sample(seed), hard.sample(seed)
        assert 1 <= len(_ids(s)) <= 3 and set(_ids(s)) <= set(IFEVAL_IDS)
        assert 3 <= len(_ids(h)) <= 5
        assert sum(i in IFBENCH_IDS for i in _ids(h)) >= 2
        assert len(set(_ids(h))) == len(_ids(h))
    # difficulty raises the minimum number of constraints
    assert all(len(_ids(simple.sample(seed, 2))) == 3 for seed in range(20))


def test_sampled_constraints_never_conflict():
    env = get_env("if/hard")
    for seed in range(100):
        specs = [CATALOGUE[i] for i in _ids(env.sample(seed))]
        for i, a in enumerate(specs):
            for b in specs[i + 1:]:
                assert not a.groups & b.groups, (a.instruction_id, b.instruction_id)


@pytest.mark.parametrize("env_id", ["if/simple", "if/hard"])
def test_sampled_kwargs_are_accepted_by_the_checkers(env_id):
    env = get_env(env_id)
    for seed in range(150):
        task = env.sample(seed, seed % 3)
        parse_payload(task.payload)  # raises InstructionPayloadError on any bad kwarg
        assert VERIFIER.verify("A plain answer.", task.payload).reason != "bad_payload"


def test_every_catalogue_entry_samples_valid_kwargs_and_is_a_checker():
    assert set(CATALOGUE) <= set(checker_ids())
    rng = random.Random(0)
    for instruction_id, spec in CATALOGUE.items():
        for _ in range(25):
            kwargs = spec.sample(rng, "Describe a perfect picnic.")
            parse_payload({"instruction_id_list": [instruction_id], "kwargs": [kwargs]})
            assert spec.phrase(kwargs).strip()


def test_references_satisfy_their_constraints():
    seen = 0
    for env in (get_env("if/simple"), get_env("if/simple", instruction_ids="easy")):
        for seed in range(120):
            task = env.sample(seed, seed % 3)
            if task.reference is None:
                continue
            seen += 1
            verdict = VERIFIER.verify(task.reference, task.payload)
            assert verdict.correct, (task.payload, task.reference, verdict.details)
    assert seen > 100


def test_easy_pool_is_followable_and_always_has_a_reference():
    env = get_env("if/simple", instruction_ids="easy")
    assert {"change_case:english_lowercase", "punctuation:no_comma", "startend:end_checker"} <= set(EASY_IDS)
    for seed in range(40):
        task = env.sample(seed)
        assert set(_ids(task)) <= set(EASY_IDS) and task.reference is not None


def test_a_short_draft_gives_short_references_that_still_follow_their_constraints():
    env = get_env("if/simple", instruction_ids="easy", draft="This is the answer to your question.")
    default = get_env("if/simple", instruction_ids="easy")
    for seed in range(40):
        task = env.sample(seed)
        assert "answer to your" in task.reference.lower()
        assert len(task.reference) < len(default.sample(seed).reference) - 100  # the default draft: 180 chars
        assert VERIFIER.verify(task.reference, task.payload).correct, (task.payload, task.reference)
    with pytest.raises(ValueError, match="draft is empty"):
        InstructionEnv(draft=" ")


def test_instruction_ids_option_restricts_the_pool():
    env = get_env("if/hard", instruction_ids=["punctuation:no_comma", "startend:quotation", "format:title_case"])
    for seed in range(20):
        assert set(_ids(env.sample(seed))) <= {"punctuation:no_comma", "startend:quotation", "format:title_case"}
    with pytest.raises(ValueError, match="no sampleable constraint"):
        InstructionEnv(instruction_ids=["nope:nothing"])
    with pytest.raises(ValueError, match="unknown constraint pool"):
        InstructionEnv(instruction_ids="rare")


def test_prompts_from_a_dataset_path(tmp_path):
    rows = [{"prompt": "Tell me about owls."}, {"messages": [{"role": "user", "content": "Name a planet."}]},
            {"text": "Describe a kite."}]
    path = tmp_path / "prompts.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    env = get_env("if/simple", path=str(path))
    bases = {env.sample(seed).meta["base_prompt"] for seed in range(40)}
    assert bases == {"Tell me about owls.", "Name a planet.", "Describe a kite."}
    path.write_text(json.dumps({"other": 1}) + "\n")
    with pytest.raises(ValueError, match="no prompt text"):
        get_env("if/simple", path=str(path))


def test_repeat_prompt_quotes_the_base_prompt():
    env = get_env("if/simple", instruction_ids=["combination:repeat_prompt"], min_constraints=1, max_constraints=1)
    task = env.sample(3)
    assert task.payload["kwargs"][0]["prompt_to_repeat"] == task.meta["base_prompt"]
    assert VERIFIER.verify(task.reference, task.payload).correct
