"""Per-stage evals: held-out rules, before/after caching, the cascade matrix."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from cascade import eval_matrix
from cascade.config import CascadeConfig, ConfigError, check_semantics
from cascade.curricula import build_curriculum
from cascade.driver import evaluate_stage
from cascade.eval_matrix import cascade_matrix, forgetting_by_suite, max_forgetting, run_evals
from cascade.manifest import Manifest
from cascade.stage_eval import check_evals, eval_tasks, resolve_eval, training_split
from cascade.task_stream import TaskStream
from envs.heldout import HeldOutSplit, heldout_key
from stages import get_stage_kind

KINDS = {  # stage kind -> (its default envs unless given, training draws)
    "reasoning_warmup": (None, 150),
    "rlve_curriculum": ([{"id": "rlve/Multiplication"}, {"id": "rlve/Division"}, {"id": "rlve/LCM"}], 60),
    "math_code_rl": (None, 200),
    "behavioral_rl": (None, 200),
}


def _cfg(tmp_path: Path, stages: list[dict], **top) -> CascadeConfig:
    data = {"run_dir": str(tmp_path / "run"), "stages": stages, "trainer": {"allow_inactive": ["dppo"]}, **top}
    cfg = CascadeConfig.model_validate(data)  # on-policy here: DPPO listed as inactive
    check_semantics(cfg, "test.yaml")
    return cfg


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_training_never_draws_a_task_of_the_default_eval(tmp_path, kind):
    envs, draws = KINDS[kind]
    stage = {"name": "s", "kind": kind, **({"envs": envs} if envs else {})}
    if kind == "rlve_curriculum":  # the curriculum's held-out env becomes an unseen-env eval
        stage["curriculum"] = {"kind": "zaya", "options": {"held_out": ["rlve/LCM"]}}
    cfg = _cfg(tmp_path, [stage])
    plan = resolve_eval(cfg, cfg.stages[0])
    assert plan is not None, f"{kind} has no default eval"
    evals = [t for tasks in eval_tasks(plan).values() for t in tasks]
    assert evals
    split = training_split(cfg)
    assert split is not None
    rules = {e.id: e.heldout for e in plan.envs}
    assert all(split.is_heldout(t) for t in evals if rules[t.env_id] == "split")
    s = cfg.stages[0]
    k = get_stage_kind(kind)
    from cascade.runner import env_specs

    specs = env_specs(k, s)
    stream = TaskStream(specs, seed=0, curriculum=build_curriculum(s, k, specs), heldout=split)
    trained = [stream.next_task() for _ in range(draws)]
    assert {heldout_key(t) for t in trained}.isdisjoint({heldout_key(t) for t in evals})
    assert stream.heldout_rejected > 0  # the split really removed tasks from training
    if kind == "rlve_curriculum":
        assert rules["rlve/LCM"] == "unseen_env"
        assert "rlve/LCM" not in {t.env_id for t in trained}


def test_code_aux_tasks_share_their_problems_split():
    from envs import get_env

    split = HeldOutSplit(0.3)
    by_problem: dict[str, set[bool]] = {}
    for env_id in ("code/problems", "code/predict_output", "code/predict_input", "code/spec_to_code"):
        env = get_env(env_id)
        for seed in range(40):
            task = env.sample(seed)
            by_problem.setdefault(task.meta["problem_id"], set()).add(split.is_heldout(task))
    assert all(len(v) == 1 for v in by_problem.values())  # a problem is held out in every aux form or none
    assert {True, False} <= set().union(*by_problem.values())


def test_an_unseen_env_the_stage_trains_on_is_a_load_error(tmp_path):
    stage = {"name": "s", "kind": "rlve_curriculum", "envs": [{"id": "rlve/Multiplication"}],
             "eval": {"envs": [{"id": "rlve/Multiplication", "heldout": "unseen_env"}]}}
    with pytest.raises(ConfigError, match="unseen_env but the stage trains on it"):
        check_evals(_cfg(tmp_path, [stage]), "test.yaml")


def test_a_stage_naming_an_undefined_eval_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="eval 'nope' is not in `evals`"):
        _cfg(tmp_path, [{"name": "s", "kind": "reasoning_warmup", "eval": "nope"}])


# ---------------------------------------------------------------- scoring, caching, the matrix

ACCURACY = {None: 0.1, "a": 0.5, "b": 0.4}  # checkpoint (by dir name) -> the fake policy's pass@1 on stage a's eval


class FakeScorer:
    """Stands in for loading a policy: known accuracies per checkpoint, and a call count."""

    def __init__(self) -> None:
        self.calls: list[tuple[str | None, list[str]]] = []

    def __call__(self, cfg, checkpoint, plans):
        name = None if checkpoint is None else Path(checkpoint).name
        self.calls.append((name, [p.stage for p in plans]))
        own = ACCURACY[name]
        return {p.stage: {"summary": {"pass@1": own if p.stage == "a" else own / 2}, "envs": {}} for p in plans}


def _two_stage_run(tmp_path: Path, monkeypatch) -> tuple[CascadeConfig, Manifest, FakeScorer]:
    scorer = FakeScorer()
    monkeypatch.setattr(eval_matrix, "_score", scorer)
    spec = {"train_envs": True, "n_tasks": 2}
    cfg = _cfg(tmp_path, [{"name": "a", "kind": "reasoning_warmup", "envs": [{"id": "arith/add"}], "eval": spec},
                          {"name": "b", "kind": "behavioral_rl", "eval": spec}])
    manifest = Manifest(Path(cfg.run_dir))
    for name in ("a", "b"):
        ckpt = Path(cfg.run_dir) / name
        ckpt.mkdir(parents=True)
        (ckpt / "model.safetensors").write_bytes(b"weights of " + name.encode())
        manifest.update(name, "done", checkpoint=str(ckpt))
    return cfg, manifest, scorer


def test_a_checkpoint_is_scored_once_and_a_resume_reuses_it(tmp_path, monkeypatch):
    cfg, manifest, scorer = _two_stage_run(tmp_path, monkeypatch)
    evaluate_stage(cfg, manifest, cfg.stage("a"), None, notify=lambda _: None)
    evaluate_stage(cfg, manifest, cfg.stage("b"), manifest.stage("a")["checkpoint"], notify=lambda _: None)
    # initial, a, b: each loaded once, on every eval at once ("after a" is "before b")
    assert [c[0] for c in scorer.calls] == [None, "a", "b"]
    entry = manifest.stage("a")["eval"]
    assert entry["before"]["pass@1"] == 0.1 and entry["after"]["pass@1"] == 0.5
    assert entry["delta"]["pass@1"] == pytest.approx(0.4)
    calls = len(scorer.calls)
    cascade_matrix(cfg, Manifest(Path(cfg.run_dir)), notify=lambda _: None)  # a resumed driver: fresh objects
    assert len(scorer.calls) == calls
    ckpt = Path(manifest.stage("b")["checkpoint"]) / "model.safetensors"
    os.utime(ckpt, ns=(1, 1))  # retrained weights: the cache must not answer for them
    run_evals(cfg, str(ckpt.parent), list(eval_matrix.all_plans(cfg).values()))
    assert scorer.calls[-1][0] == "b" and len(scorer.calls) == calls + 1


def test_matrix_values_layout_and_forgetting(tmp_path, monkeypatch):
    cfg, manifest, _ = _two_stage_run(tmp_path, monkeypatch)
    matrix = cascade_matrix(cfg, manifest, notify=lambda _: None)
    assert matrix == Manifest(Path(cfg.run_dir)).data["eval_matrix"]
    assert matrix["checkpoints"] == ["initial", "a", "b"] and matrix["suites"] == ["a", "b"]
    assert matrix["values"]["a"] == {"initial": 0.1, "a": 0.5, "b": 0.4}
    assert matrix["values"]["b"] == {"initial": 0.05, "a": 0.25, "b": 0.2}
    assert max_forgetting(matrix) == pytest.approx(0.1)  # a's own 0.5 fell to 0.4 after b
    assert forgetting_by_suite(matrix) == {"a": pytest.approx(0.1), "b": 0.0}  # b is last: nothing after it


# ---------------------------------------------------------------- a stage trained by a reward model is scored by it


class ReferenceOnEvenSeeds:
    """Answers with the task's reference (it passes every checker) on even seeds, in capitals (fails) on odd."""

    def __init__(self, tasks) -> None:
        self.by_prompt = {t.prompt_text(): t for t in tasks}

    def __call__(self, prompts, max_new_tokens):
        from envs.rsa import user_text

        tasks = [self.by_prompt[user_text(p)] for p in prompts]
        return [t.reference if t.seed % 2 == 0 else t.reference.upper() + "!" for t in tasks]


def _rm_cfg(tmp_path: Path, rm_path: str) -> CascadeConfig:
    spec = {"train_envs": True, "n_tasks": 6, "max_new_tokens": 16}
    envs = [{"id": "if/simple", "options": {"instruction_ids": ["change_case:english_lowercase"], "max_constraints": 1}}]
    rm = {"name": "reward_model", "options": {"path": rm_path, "gate": "task", "normalize": "sigmoid"}}
    return _cfg(tmp_path, [{"name": "rm", "kind": "behavioral_rl", "envs": envs, "rewards": [rm], "eval": spec},
                           {"name": "checkers", "kind": "behavioral_rl", "envs": envs, "eval": spec}])


def test_an_eval_is_scored_by_the_stages_reward_model_behind_the_same_gate(tmp_path):
    from cascade.reward_model import build_tiny_reward_model, default_cache_dir
    from cascade.rm_reward import eval_rm_scorer
    from cascade.stage_eval import score
    from verifiers.pool import LocalVerifierPool
    from verifiers.reward_model import RewardModelScorer

    rm_path = str(build_tiny_reward_model(default_cache_dir(0)))
    cfg = _rm_cfg(tmp_path, rm_path)
    plan, plain = resolve_eval(cfg, cfg.stage("rm")), resolve_eval(cfg, cfg.stage("checkers"))
    assert plan.reward_model == {"path": rm_path, "gate": "task", "normalize": "sigmoid"}
    assert plain.reward_model is None and plan.fingerprint() != plain.fingerprint()  # the cache tells them apart
    tasks = [t for ts in eval_tasks(plan).values() for t in ts]
    policy = ReferenceOnEvenSeeds(tasks)
    result = score(plan, policy, LocalVerifierPool(), eval_rm_scorer(plan.reward_model))
    passes = [t for t in tasks if t.seed % 2 == 0]
    assert 0 < len(passes) < len(tasks)
    raw = RewardModelScorer(rm_path).score([(t.prompt, t.reference) for t in passes])
    expected = sum(1 / (1 + math.exp(-s)) for s in raw) / len(tasks)  # failures get the floor, 0
    assert result["summary"]["rm_score"] == pytest.approx(expected, abs=1e-4)
    assert result["summary"]["pass@1"] == pytest.approx(len(passes) / len(tasks))
    assert "rm_score" not in score(plain, policy, LocalVerifierPool())["summary"]


@pytest.mark.slow
def test_a_checkpoints_eval_reports_rm_score_only_where_the_stage_has_a_reward_model(tmp_path):
    from cascade.reward_model import build_tiny_reward_model, default_cache_dir
    from cascade.stage_eval import evaluate_checkpoint

    cfg = _rm_cfg(tmp_path, str(build_tiny_reward_model(default_cache_dir(0))))
    before = evaluate_checkpoint(cfg, None, [resolve_eval(cfg, s) for s in cfg.stages])
    assert 0.0 <= before["rm"]["summary"]["rm_score"] <= 1.0
    assert set(before["checkers"]["summary"]) == {"pass@1"}


def test_evals_sample_on_the_engine_the_stages_train_with(tmp_path, monkeypatch):
    import cascade.rsa
    from cascade.stage_eval import eval_backend, evaluate_checkpoint

    spec = {"train_envs": True, "n_tasks": 1, "max_new_tokens": 2}
    stage = {"name": "rl", "kind": "reasoning_warmup", "envs": [{"id": "arith/add"}], "eval": spec}
    hf = _cfg(tmp_path, [stage])
    vllm = _cfg(tmp_path, [{**stage, "generation": {"backend": "vllm"}}])
    assert (eval_backend(hf), eval_backend(vllm)) == ("hf", "vllm")
    asked, real = [], cascade.rsa.policy_engine

    def engine(model, tokenizer, backend="hf"):
        asked.append(backend)
        return real(model, tokenizer)  # sample on hf here: this machine has no vLLM

    monkeypatch.setattr(cascade.rsa, "policy_engine", engine)
    evaluate_checkpoint(vllm, None, [resolve_eval(vllm, vllm.stages[0])])
    assert asked == ["vllm"]
