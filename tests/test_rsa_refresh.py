"""On-policy RSA co-training: rsa/aggregate's candidates come from the policy being trained, refreshed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import yaml

import cascade.rsa as rsa_mod
import cascade.rsa_refresh as refresh_mod
from cascade.config import CascadeConfig, ConfigError, EnvSpec, RSARefresh, StageConfig, load_config
from cascade.policy import build_tiny_policy
from cascade.rewards import TaskReward
from cascade.rsa import make_tail_fn, policy_engine
from cascade.rsa_refresh import ROLLOUTS_FILE, RSARefresher, refreshed_specs
from cascade.runner import run_stage
from cascade.task_stream import TaskStream
from envs.rsa import RSAAggregateEnv, user_text
from envs.task import Task
from verifiers.pool import LocalVerifierPool

RSA = {"refresh_every": 2, "n": 3, "c": 2, "tau": 4, "budget": 6, "num_problems": 2, "envs": ["arith/add"]}


def _fingerprint(model) -> float:
    return float(sum(p.double().sum() for p in model.state_dict().values()))


class RecordingEngine:
    """The real in-process engine, recording what it sampled and from which weights."""

    def __init__(self, model, tokenizer, log: list) -> None:
        self.inner, self.model, self.log = policy_engine(model, tokenizer), model, log

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def generate(self, prompts, n, sampling):
        out = self.inner.generate(prompts, n, sampling)
        self.log.append({"weights": _fingerprint(self.model), "token_ids": [c.token_ids for c in out]})
        return out


def test_refresh_writes_the_engine_s_completions_of_the_model(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    model, tok = build_tiny_policy()
    specs = refreshed_specs(StageConfig(name="s", kind="math_code_rl", rsa=RSA), [EnvSpec(id="arith/add"), EnvSpec(id="rsa/aggregate")], tmp_path)
    stream = TaskStream(specs, seed=0)
    refresher = RSARefresher(RSARefresh(**RSA), stream, specs, LocalVerifierPool(), tok, tmp_path)
    torch.manual_seed(7)
    refresher.refresh(model, version=3, step=6)
    rows = [json.loads(line) for line in (tmp_path / ROLLOUTS_FILE).read_text().splitlines()]
    assert [r["version"] for r in rows] == [3, 3] and all(len(r["rollouts"]) == len(r["correct"]) == 3 for r in rows)
    # the same engine over the same weights and RNG state samples exactly these candidates
    from cascade.generation.engine import SamplingParams, generate_texts

    torch.manual_seed(7)
    tasks = refresher.problems(3)
    again = generate_texts(policy_engine(model, tok), tok, [t.prompt for t in tasks], 3, SamplingParams(max_new_tokens=6))
    tail = make_tail_fn(tok)
    assert [r["rollouts"] for r in rows] == [[tail(c, 4) for c in g] for g in again]
    assert len({c for r in rows for c in r["rollouts"]}) > 1  # sampled, not one constant string
    env = RSAAggregateEnv(specs[1].options["rollouts_path"], c=2)
    first = env.sample(5).prompt_text()
    torch.manual_seed(8)
    refresher.refresh(model, version=4, step=8)  # replaced on disk: the env reloads without being rebuilt
    fresh = [json.loads(x)["rollouts"] for x in (tmp_path / ROLLOUTS_FILE).read_text().splitlines()]
    assert env.sample(5).prompt_text() != first and sorted(r[1] for r in env.rows) == sorted(fresh)


def test_a_stage_trains_on_its_own_refreshed_candidates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.set_num_threads(1)
    sampled: list = []
    written: list = []
    scored: list = []
    monkeypatch.setattr(refresh_mod, "refresh_engine", lambda m, t: RecordingEngine(m, t, sampled))
    write = rsa_mod.write_rows
    monkeypatch.setattr(rsa_mod, "write_rows", lambda path, rows: (written.append(rows), write(path, rows)))
    score = TaskReward.__call__

    def spy(self, prompts, completions, task, **kw):
        rsa = [p[-1]["content"] for p, t in zip(prompts, task) if json.loads(t)["env_id"] == "rsa/aggregate"]
        scored.append({"version": written[-1][0]["version"], "rsa_prompts": rsa})
        return score(self, prompts, completions, task, **kw)

    monkeypatch.setattr(TaskReward, "__call__", spy)
    cfg = _stage_config(tmp_path, max_steps=6)
    run_stage(cfg, "mc", None)
    stage = Path(cfg.run_dir) / "mc"
    # (a) written at start and after steps 2 and 4 (not after the last step, 6), versions increasing
    assert [rows[0]["version"] for rows in written] == [0, 1, 2] and [rows[0]["step"] for rows in written] == [0, 2, 4]
    assert [json.loads(x)["version"] for x in (stage / ROLLOUTS_FILE).read_text().splitlines()] == [2, 2]
    # (b) each version's tails are the engine's completions, sampled from the weights of that step
    tok = _tok()
    tail = make_tail_fn(tok)
    assert len(sampled) == len(written)
    for rows, call in zip(written, sampled):
        texts = tok.batch_decode(call["token_ids"], skip_special_tokens=True)
        assert [t for r in rows for t in r["rollouts"]] == [tail(x, 4) for x in texts]
    from transformers import AutoModelForCausalLM

    for step, call in ((2, sampled[1]), (4, sampled[2])):
        saved = AutoModelForCausalLM.from_pretrained(stage / "checkpoints" / f"checkpoint-{step}")
        assert abs(_fingerprint(saved) - call["weights"]) < 1e-6 * max(1.0, abs(call["weights"]))
    # the policy moved between refreshes (weight decay moves it even when every group has zero reward spread)
    assert len({c["weights"] for c in sampled}) == 3
    # (c) after each refresh, aggregation prompts that were trained on show that version's tails: a refresh
    # after step k reaches the batches of step k + 2 on (the dataloader holds one batch ahead)
    def versions_in(prompt: str) -> set[int]:
        """The versions with a row for this prompt's problem holding every candidate tail it shows."""
        shown = [t.strip() for t in re.findall(r"Candidate \d+:\n\.\.\.(.*?)(?=\n\nCandidate \d+:|\n\nConsider)", prompt, re.S)]
        assert len(shown) == RSA["c"]
        return {rows[0]["version"] for rows in written for r in rows
                if user_text(Task.from_dict(r["task"]).prompt).strip() in prompt
                and set(shown) <= {t.strip() for t in r["rollouts"]}}

    for v in (1, 2):
        after = [p for s in scored if s["version"] == v for p in s["rsa_prompts"]]
        assert after and any(v in versions_in(p) for p in after)
        assert all(versions_in(p) & {v, v - 1} for p in after)  # at most one refresh behind (a prefetched batch)
    # metrics.jsonl shows the refreshes
    metrics = [json.loads(x) for x in (stage / "metrics.jsonl").read_text().splitlines()]
    logged = [m["rsa/refresh_version"] for m in metrics if "rsa/refresh_version" in m]
    assert logged == sorted(logged) and logged[-1] == 2 and all(0 <= m["rsa/candidates_correct"] <= 1 for m in metrics if "loss" in m)


def _stage_config(tmp_path: Path, max_steps: int) -> CascadeConfig:
    return CascadeConfig.model_validate({
        "run_dir": str(tmp_path / "run"), "keep_checkpoints": True,
        "stages": [{"name": "mc", "kind": "math_code_rl", "rsa": RSA,
                    "envs": [{"id": "arith/add"}, {"id": "rsa/aggregate", "weight": 3}],
                    "trainer": {"max_steps": max_steps, "save_steps": 2, "per_device_train_batch_size": 8, "num_generations": 4,
                                "max_completion_length": 6, "learning_rate": 1e-3, "weight_decay": 0.5,
                                "allow_inactive": ["dppo"], "save_total_limit": 3,
                                # refills draw through a 64-row shuffle buffer, i.e. prompts drawn long before;
                                # without refills dynamic sampling changes nothing under dr_grpo
                                "dynamic_sampling": False}}],
    })


def test_a_resumed_stage_keeps_its_file_then_rewrites_it_from_the_resumed_weights(tmp_path: Path, monkeypatch) -> None:
    torch.set_num_threads(1)
    run_stage(_stage_config(tmp_path, max_steps=4), "mc", None)
    stage = tmp_path / "run" / "mc"
    before = (stage / ROLLOUTS_FILE).read_text()
    assert [json.loads(x)["version"] for x in before.splitlines()] == [1, 1]
    sampled: list = []
    monkeypatch.setattr(refresh_mod, "refresh_engine", lambda m, t: RecordingEngine(m, t, sampled))
    seen_at_start: list = []
    start = refresh_mod.start_refresh

    def start_and_look(*args, **kwargs):
        out = start(*args, **kwargs)
        seen_at_start.append((stage / ROLLOUTS_FILE).read_text())
        return out

    import cascade.runner

    monkeypatch.setattr(cascade.runner, "start_refresh", start_and_look)
    summary = run_stage(_stage_config(tmp_path, max_steps=6), "mc", None)  # a longer run resumes from checkpoint-4
    assert summary["resumed_from"].endswith("checkpoint-4") and summary["steps"] == 6
    assert seen_at_start == [before]  # kept at stage start (the filter would read it), not redrawn from old weights
    after = [json.loads(x) for x in (stage / ROLLOUTS_FILE).read_text().splitlines()]
    assert [(r["version"], r["step"]) for r in after] == [(2, 4), (2, 4)] and len(sampled) == 1
    from transformers import AutoModelForCausalLM

    saved = AutoModelForCausalLM.from_pretrained(stage / "checkpoints" / "checkpoint-4")
    assert abs(_fingerprint(saved) - sampled[0]["weights"]) < 1e-6 * max(1.0, abs(sampled[0]["weights"]))


def _tok():
    return build_tiny_policy()[1]


def _config(tmp_path: Path, stage: dict) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"run_dir": str(tmp_path / "run"), "stages": [{"name": "s", **stage}]}))
    return path


@pytest.mark.parametrize("stage, where", [
    ({"kind": "math_code_rl", "envs": [{"id": "arith/add"}], "rsa": {"refresh_every": 2}}, "stages[0].rsa:"),
    ({"kind": "math_code_rl", "rsa": {"refresh_every": 0}}, "stages[0].rsa.refresh_every:"),
    ({"kind": "math_code_rl", "rsa": {"refresh_every": 1, "c": 0}}, "stages[0].rsa.c:"),
    ({"kind": "math_code_rl", "rsa": {"refresh_every": 1, "tau": 0}}, "stages[0].rsa.tau:"),
    ({"kind": "math_code_rl", "rsa": {"refresh_every": 1, "n": 2, "c": 4}}, "stages[0].rsa:"),
    ({"kind": "math_code_rl", "rsa": {"refresh_every": 1, "num_problems": 3}, "resources": {"num_workers": 2}},
     "stages[0].rsa.num_problems:"),
    ({"kind": "math_code_rl", "envs": [{"id": "arith/add"}, {"id": "rsa/aggregate", "options": {"c": 2}}],
      "rsa": {"refresh_every": 1}}, "stages[0].envs[1].options.c:"),
    ({"kind": "math_code_rl", "envs": [{"id": "arith/add"}, {"id": "rsa/aggregate"}],
      "rsa": {"refresh_every": 1, "envs": ["data/math"]}}, "stages[0].rsa.envs[0]:"),
    ({"kind": "math_code_rl", "envs": [{"id": "rsa/aggregate"}], "rsa": {"refresh_every": 1}}, "stages[0].rsa.envs:"),
    ({"kind": "sft", "envs": [{"id": "arith/add"}, {"id": "rsa/aggregate"}], "rsa": {"refresh_every": 1}}, "stages[0].rsa:"),
])
def test_refresh_settings_that_cannot_act_fail_the_load(tmp_path: Path, stage: dict, where: str) -> None:
    with pytest.raises(ConfigError, match="c\\.yaml: " + re.escape(where)):
        load_config(_config(tmp_path, stage))


def test_shipped_configs_load_with_and_without_refresh() -> None:
    configs = Path(__file__).resolve().parents[1] / "configs"
    tiny = load_config(configs / "tiny.yaml")
    assert all(s.rsa is None for s in tiny.stages)  # the shipped file stays the offline default
    big = load_config(configs / "zaya1-8b.yaml")
    assert [s.name for s in big.stages if s.rsa is not None] == ["math_code_general", "math_code_code_heavy"]
    from cascade.plan import rsa_refresh_summary

    summary = rsa_refresh_summary(big.stage("math_code_general"))  # rank 0 samples them all on the stage's engines
    assert "every 16 steps: 16 problems x n=16" in summary and summary.endswith("the stage's vllm engines")
    assert rsa_refresh_summary(tiny.stage("math_code_rl")) is None
