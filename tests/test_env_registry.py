"""Registry-wide contract: every built-in environment samples deterministically, and the
reference completion it ships (where it has one) is judged correct by its own verifier.

All builtin/data/code/instruction/rsa/chat environments, plus a deterministic sample of the
rlve-gym and reasoning-gym families (every k-th id in sorted order, 20 of each).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from envs import get_env, list_envs
from verifiers import get_verifier

ROOT = Path(__file__).resolve().parents[1]
PER_FAMILY = 20
# Environments that cannot be built without options name the smallest ones that work.
REQUIRED_OPTIONS = {
    "data/math": {"path": str(ROOT / "data/math/tiny_arith.jsonl")},
    "data/mixture": {"children": [{"env": "arith/add", "weight": 1}, {"env": "arith/sub", "weight": 1}]},
}
NO_REFERENCE = {"chat/prompts"}  # judged by a reward model, so no gold completion exists


def _spread(ids: list[str], k: int) -> list[str]:
    step = max(1, len(ids) // k)
    return ids[::step][:k]


def _ids() -> list[str]:
    ids = sorted(i.env_id for i in list_envs())
    families = [i for i in ids if not i.startswith(("rlve/", "rg/"))]
    return families + _spread([i for i in ids if i.startswith("rlve/")], PER_FAMILY) + \
        _spread([i for i in ids if i.startswith("rg/")], PER_FAMILY)


@pytest.fixture(scope="module")
def verifier_cache():
    cache: dict[str, object] = {}

    def get(name: str):
        if name not in cache:
            cache[name] = get_verifier(name)
        return cache[name]

    return get


@pytest.mark.slow
@pytest.mark.parametrize("env_id", _ids())
def test_sampling_is_deterministic_and_the_reference_passes_its_verifier(env_id, verifier_cache):
    options = REQUIRED_OPTIONS.get(env_id, {})
    first, second = get_env(env_id, **options), get_env(env_id, **options)
    for seed, difficulty in ((3, 0), (11, 1)):
        task = first.sample(seed=seed, difficulty=difficulty)
        assert task.to_json() == second.sample(seed=seed, difficulty=difficulty).to_json()
        assert task.to_json() == first.sample(seed=seed, difficulty=difficulty).to_json()
        if env_id in NO_REFERENCE:
            continue
        if task.reference is None:  # some generators only know the answer, not a completion
            continue
        verdict = verifier_cache(task.verifier).verify(task.reference, task.payload)
        assert verdict.correct, (env_id, seed, difficulty, verdict.reason, verdict.details, task.reference[:300])


def test_the_sample_covers_every_family():
    ids = _ids()
    assert sum(i.startswith("rlve/") for i in ids) == PER_FAMILY and sum(i.startswith("rg/") for i in ids) == PER_FAMILY
    assert {i.split("/")[0] for i in ids} >= {"arith", "chat", "code", "data", "if", "rsa", "rlve", "rg"}
