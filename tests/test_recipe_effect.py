"""The recipe-in-effect table and the rule behind it: a switch that cannot apply fails the load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cascade.cli import app
from cascade.config import load_config
from cascade.recipe import CascadeGRPOConfig, check_recipe_for_model
from cascade.recipe.effect import SWITCHES, format_table, inactive_problems, recipe_in_effect
from cascade.recipe.stage_recipe import stage_recipe

OFF_POLICY = {"num_iterations": 2}  # lets DPPO's reference differ from the trained policy


def _config(tmp_path: Path, trainer: dict, policy: str = "tiny", kind: str = "math_code_rl") -> Path:
    data = {
        "run_dir": str(tmp_path / "run"),
        "policy": {"name_or_path": policy},
        "stages": [{"name": "sft", "kind": "sft"}, {"name": "rl", "kind": kind, "trainer": trainer}],
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _llama_dir(tmp_path: Path) -> str:
    (tmp_path / "llama").mkdir()
    (tmp_path / "llama" / "config.json").write_text(json.dumps({"model_type": "llama"}))
    return str(tmp_path / "llama")


# (switch, trainer section, policy or None for tiny, the key the error names, words of the reason)
CANNOT_APPLY = [
    ("router_replay", {**OFF_POLICY, "use_vllm": True, "vllm_importance_sampling_correction": False}, None,
     "router_replay", "trl-vllm"),
    ("router_replay", {**OFF_POLICY, "use_transformers_continuous_batching": True}, None, "router_replay", "continuous"),
    ("router_replay", {**OFF_POLICY, "router_replay": True}, "llama", "router_replay", "needs a ZAYA policy"),
    ("dppo", {}, None, "trust_region", "on-policy"),
    ("optimizer", {**OFF_POLICY, "optimizer": "muon", "fsdp": "full_shard", "fsdp_config": {"version": 1}}, None,
     "optimizer", "FSDP1 flattens them"),
    ("optimizer", {**OFF_POLICY, "optimizer": "muon", "optim": "adafactor"}, None, "optim", "would be ignored"),
]


@pytest.mark.parametrize(("switch", "trainer", "policy", "key", "why"), CANNOT_APPLY)
def test_a_switch_that_cannot_apply_is_a_load_time_error(tmp_path, switch, trainer, policy, key, why):
    path = _config(tmp_path, trainer, _llama_dir(tmp_path) if policy else "tiny")
    result = CliRunner().invoke(app, ["stage", str(path), "rl"])
    assert result.exit_code == 2, result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith(f"error: {path}: stages[1].trainer.{key}: {switch} cannot apply"), line
    assert why in line and "allow_inactive" in line


@pytest.mark.parametrize(("switch", "trainer", "policy", "key", "why"), CANNOT_APPLY)
def test_allow_inactive_loads_and_the_table_says_why(tmp_path, switch, trainer, policy, key, why):
    path = _config(tmp_path, {**trainer, "allow_inactive": [switch]}, _llama_dir(tmp_path) if policy else "tiny")
    cfg = load_config(path)
    rows = stage_recipe(cfg, cfg.stages[1])
    assert rows[switch]["active"] is False and rows[switch]["requested"] is True
    assert why in rows[switch]["why"] and "allowed by allow_inactive" in rows[switch]["why"]
    assert f"{switch:<20} OFF" in format_table(rows)


def test_allow_inactive_must_name_a_switch(tmp_path):
    result = CliRunner().invoke(app, ["stage", str(_config(tmp_path, {"allow_inactive": ["dppo", "kl_typo"]})), "rl"])
    assert result.exit_code == 2 and "stages[1].trainer.allow_inactive: unknown switch 'kl_typo'" in result.output
    needless = load_config(_config(tmp_path, {**OFF_POLICY, "allow_inactive": ["dppo"]}))  # off-policy: DPPO acts
    row = stage_recipe(needless, needless.stages[1])["dppo"]
    assert row["active"] and row["why"].endswith("(listed in allow_inactive, not needed here)")


def _args(tmp_path: Path, **kw) -> CascadeGRPOConfig:
    base = dict(output_dir=str(tmp_path), use_cpu=True, bf16=False, num_generations=4, per_device_train_batch_size=8)
    return CascadeGRPOConfig(**{**base, **kw})


def test_rows_follow_the_config(tmp_path):
    rows = recipe_in_effect(_args(tmp_path, trust_region="dppo_binary_tv", num_iterations=2, dynamic_sampling=True,
                                  length_bonus_c=0.5, beta=0.0, advantage_estimator="maxrl", loss_type="dr_grpo"), "zaya")
    assert list(rows) == list(SWITCHES)
    assert all(rows[k]["active"] for k in ("router_replay", "dppo", "dynamic_sampling", "length_bonus"))
    assert rows["dppo"]["delta"] == 0.1 and "trainer recomputation" in rows["dppo"]["reference"]
    assert rows["dynamic_sampling"]["refill"] is True and rows["kl"]["active"] is False
    kl = recipe_in_effect(_args(tmp_path, beta=0.04), "zaya")["kl"]
    assert kl["active"] and kl["requested"] and kl["beta"] == 0.04
    assert rows["aggregation"]["loss_type"] == "dr_grpo" and rows["advantage_estimator"]["estimator"] == "maxrl"
    assert rows["degeneracy_gate"]["active"] is False and rows["degeneracy_gate"]["requested"] is False
    assert rows["optimizer"]["optimizer"] == "adamw"
    json.dumps(rows)  # goes into the manifest as is
    assert inactive_problems(rows, []) == []


def test_muon_acts_under_fsdp2_not_fsdp1(tmp_path):
    fsdp2 = recipe_in_effect(_args(tmp_path, optimizer="muon", fsdp=True, fsdp_config={"version": 2}), "zaya")["optimizer"]
    assert fsdp2["active"] and "gathered whole once per step" in fsdp2["why"]
    plain = recipe_in_effect(_args(tmp_path, optimizer="muon"), "zaya")["optimizer"]
    assert plain["active"] and "FSDP" not in plain["why"]
    fsdp1 = recipe_in_effect(_args(tmp_path, optimizer="muon", fsdp=True, fsdp_config={"version": 1}), "zaya")["optimizer"]
    assert fsdp1["requested"] and not fsdp1["active"] and "FSDP1 flattens" in fsdp1["why"]


def test_engine_rollouts_supply_dppo_reference_and_routes(tmp_path):
    args = _args(tmp_path, trust_region="dppo_binary_tv")  # on-policy schedule
    assert recipe_in_effect(args, "zaya")["dppo"]["active"] is False
    for backend in ("hf", "vllm"):  # engines return behaviour log-probs and the routed experts
        rows = recipe_in_effect(args, "zaya", {"backend": backend, "max_staleness": 1})
        assert rows["dppo"]["active"] is True and f"{backend} rollout engine" in rows["dppo"]["reference"]
        assert rows["router_replay"]["active"] is True, rows["router_replay"]
    assert recipe_in_effect(args, "zaya", {"backend": "trainer"})["dppo"]["active"] is False  # the default: TRL generates


def test_refill_under_several_processes_and_unknown_policy(tmp_path):
    args = _args(tmp_path, dynamic_sampling=True, dynamic_sampling_max_refills=2)
    rows = recipe_in_effect(args, "zaya", num_processes=2)  # refill runs in lockstep on every rank
    assert rows["dynamic_sampling"]["active"] and rows["dynamic_sampling"]["refill"]
    assert "2 processes" in rows["dynamic_sampling"]["why"] and check_recipe_for_model(args, "zaya", num_processes=2) == []
    masked = recipe_in_effect(_args(tmp_path, dynamic_sampling=True, dynamic_sampling_max_refills=0, loss_type="dapo"),
                              "zaya", num_processes=2)
    assert masked["dynamic_sampling"]["active"] is True and masked["dynamic_sampling"]["refill"] is False
    unknown = recipe_in_effect(args, None)["router_replay"]  # model type known only at load: not asked for yet
    assert unknown["requested"] is False and "unknown" in unknown["why"]


def test_masking_without_refills_says_what_it_changes_per_loss_type(tmp_path):
    """dr_grpo-style normalisers ignore the mask, and a zero-spread group's advantages are 0: masking it
    without refills changes no gradient (an error) unless a KL or entropy term is there to remove."""
    def row(**kw):
        return recipe_in_effect(_args(tmp_path, dynamic_sampling=True, dynamic_sampling_max_refills=0, **kw), "zaya")["dynamic_sampling"]

    for loss_type in ("dr_grpo", "grpo"):
        idle = row(loss_type=loss_type, beta=0.0)
        assert idle["requested"] and not idle["active"] and "changes no gradient" in idle["why"]
        problems = inactive_problems({"dynamic_sampling": idle}, None)
        assert problems and problems[0][0] == "dynamic_sampling" and "dynamic_sampling_max_refills > 0" in problems[0][1]
        assert inactive_problems({"dynamic_sampling": idle}, ["dynamic_sampling"]) == []
    kl = row(loss_type="dr_grpo", beta=0.04)
    assert kl["active"] and "only their KL term" in kl["why"]
    assert "entropy bonus" in row(loss_type="dr_grpo", beta=0.0, entropy_coef=0.01)["why"]
    assert row(loss_type="bnpo", beta=0.0)["active"]  # the token mean then averages over the kept groups only


# What the report uses per stage (§IV-B). zaya1-8b.yaml samples through vllm rollout engines shared by the
# 8 FSDP2 trainers: router replay uses the engines' routed experts, DPPO their behaviour log-probs.
REPORT_ON = {
    "verifiable": {"router_replay", "dppo", "advantage_estimator", "aggregation", "dynamic_sampling", "length_bonus",
                   "degeneracy_gate", "optimizer"},
    "behavioral_rl": {"router_replay", "advantage_estimator", "aggregation", "optimizer"},
}


def test_zaya1_8b_runs_every_switch_the_report_uses(root):
    from cascade.recipe.stage_recipe import stage_recipe

    cfg = load_config(root / "configs" / "zaya1-8b.yaml")
    for stage in cfg.stages:
        rows = stage_recipe(cfg, stage, num_processes=stage.resources.num_workers)
        verifiable = stage.kind != "behavioral_rl"
        on = REPORT_ON["verifiable" if verifiable else "behavioral_rl"]
        assert {k for k, r in rows.items() if r["active"]} == on, stage.name
        assert {k for k, r in rows.items() if r["requested"] and not r["active"]} == set(), stage.name
        assert "FSDP2: each sharded matrix's update is gathered whole" in rows["optimizer"]["why"], rows["optimizer"]
        assert "vllm engines return" in rows["router_replay"]["why"]
        if verifiable:
            assert rows["dppo"]["reference"] == "behaviour log-probs returned by the vllm rollout engine" and rows["dppo"]["ratio_cap"] == 20.0
        assert rows["kl"]["beta"] == 0.0 and rows["aggregation"]["loss_type"] == ("grpo" if stage.kind == "behavioral_rl" else "dr_grpo")
        assert rows["optimizer"]["optimizer"] == "muon" and rows["optimizer"]["momentum"] == 0.0  # Muon under FSDP2


def test_stage_start_log_shows_the_table_and_each_allowed_inactive_switch(tmp_path, caplog):
    import io

    from cascade.recipe.effect import log_recipe_in_effect

    rows = recipe_in_effect(_args(tmp_path, trust_region="dppo_binary_tv", allow_inactive=["dppo"]), "zaya")
    out = io.StringIO()
    log_recipe_in_effect(rows, "rl", stream=out)
    assert out.getvalue().startswith("[rl] recipe in effect:") and out.getvalue().count("\n") == len(SWITCHES) + 1
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"stage rl: dppo is inactive (allow_inactive): {rows['dppo']['why']}"
    ]
