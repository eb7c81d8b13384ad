"""`cascade plan`: the resolved layout and batch arithmetic, checked against numbers worked by hand."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cascade.config import ConfigError, load_config
from cascade.placement import missing_resources
from cascade.plan import plan


def cascade(*args: str):
    from cascade.cli import app

    return CliRunner().invoke(app, list(args))


def test_zaya_plan_is_128_prompts_x_16_on_8_fsdp2_workers(root):
    proc = cascade("plan", str(root / "configs" / "zaya1-8b.yaml"), "--json")
    assert proc.exit_code == 0, proc.output
    stages = json.loads(proc.stdout)["stages"]
    assert len(stages) == 7
    for s in stages:
        # 16 completions per device x 8 workers x 16 accumulation = 2048 = 128 prompts x G 16
        assert (s["train_workers"], s["gpus_per_worker"], s["cpus_per_worker"]) == (8, 1, 4)
        assert (s["per_device_train_batch_size"], s["gradient_accumulation_steps"]) == (16, 16)
        assert (s["prompts_per_step"], s["generations_per_prompt"], s["completions_per_step"]) == (128, 16, 2048)
        assert (s["generation_batch_size"], s["steps_per_generation"]) == (2048, 16)
        assert s["backend"] == "nccl" and s["sharding"].startswith("fsdp2")
        assert s["generation"].startswith("vllm rollout engine: 16 Ray actor(s) of {GPU: 1, CPU: 2}")
        assert "shared by the 8 training workers" in s["generation"] and "max_staleness 2" in s["generation"]
    assert [s["reward_model"] is not None for s in stages] == [False] * 4 + [True] * 3
    assert stages[4]["reward_model"].endswith("1 Ray actor of {GPU: 1, CPU: 0}, shared by the 8 training workers")


def test_tiny_plan_and_a_worker_override(root):
    cfg = load_config(root / "configs" / "tiny.yaml")
    stages = plan(cfg)["stages"]
    sft, rl = stages[0], stages[1:]
    assert (sft["train_workers"], sft["samples_per_step"], sft["generations_per_prompt"]) == (1, 16, None)
    for s in rl:  # 8 completions per device x 1 worker x 1 = 8 = 2 prompts x G 4
        assert (s["prompts_per_step"], s["generations_per_prompt"], s["generation_batch_size"]) == (2, 4, 8)
        assert s["sharding"] == "none (one worker)" and s["backend"] == "gloo"
    # 2 workers with half the per-device batch: the same 2 prompts x 4 per step, now DDP
    cfg = load_config(
        root / "configs" / "tiny.yaml",
        ["stages.math_code_rl.resources.num_workers=2", "stages.math_code_rl.trainer.per_device_train_batch_size=4"],
    )
    s = plan(cfg)["stages"][3]
    assert (s["train_workers"], s["per_device_train_batch_size"], s["prompts_per_step"], s["sharding"]) == (2, 4, 2, "ddp")


def test_plan_rejects_a_generation_batch_that_does_not_fit_the_workers(root):
    proc = cascade("plan", str(root / "configs" / "tiny.yaml"), "--set", "stages.math_code_rl.resources.num_workers=3",
                   "--set", "stages.math_code_rl.trainer.generation_batch_size=8")
    assert proc.exit_code == 2
    assert "stages[3].trainer" in proc.stderr and "not a multiple of the global batch 8 x 3 workers" in proc.stderr


def test_resources_keep_stage_totals_and_refuse_contradictions(root):
    cfg = load_config(root / "configs" / "tiny.yaml", ["stages.sft.resources={num_workers: 4, num_cpus: 8, num_gpus: 4}"])
    res = cfg.stages[0].resources
    assert (res.worker_cpus, res.worker_gpus, res.gpu) == (2, 1, True)
    with pytest.raises(ConfigError, match="give num_cpus .* or cpus_per_worker, not both"):
        load_config(root / "configs" / "tiny.yaml", ["stages.sft.resources={num_cpus: 2, cpus_per_worker: 1}"])
    with pytest.raises(ConfigError, match="use_gpu is false but GPUs are requested"):
        load_config(root / "configs" / "tiny.yaml", ["stages.sft.resources={use_gpu: false, gpus_per_worker: 1}"])
    with pytest.raises(ConfigError, match="shuffle_dataset: is set by the runner"):
        load_config(root / "configs" / "tiny.yaml", ["trainer.shuffle_dataset=true"])


def test_placement_names_what_the_cluster_lacks(root):
    cfg = load_config(root / "configs" / "zaya1-8b.yaml")
    stage = cfg.stages[0]
    # 8 x {CPU 4, GPU 1}: a 6-GPU cluster holds 6 workers, whatever its CPU count
    problem = missing_resources(cfg, stage, [{"CPU": 64.0, "GPU": 4.0}, {"CPU": 8.0, "GPU": 2.0}])
    assert "needs 8 training workers of {CPU: 4, GPU: 1}" in problem and "can hold 6: missing 2 x {CPU: 4, GPU: 1}" in problem
    # the verifier pools' reservations count too (8 workers x 4 actors x 1 CPU beyond the 32 of the workers)
    problem = missing_resources(cfg, stage, [{"CPU": 40.0, "GPU": 24.0}])
    assert "reward model reserve 64 CPU" in problem and "missing 56 CPU" in problem
    # the stage's 16 one-GPU rollout engines (once per stage, not per worker): 24 GPUs in all
    problem = missing_resources(cfg, stage, [{"CPU": 96.0, "GPU": 8.0}] * 2)
    assert "reserve 16 GPU beyond the workers' 8" in problem and "missing 8 GPU" in problem
    assert missing_resources(cfg, stage, [{"CPU": 96.0, "GPU": 8.0}] * 3) is None
    # a behavioral stage's reward model is one actor shared by its 8 workers: 1 GPU beside the engines'
    problem = missing_resources(cfg, cfg.stages[4], [{"CPU": 96.0, "GPU": 8.0}] * 3)
    assert "reserve 17 GPU beyond the workers' 8" in problem and "missing 1 GPU" in problem
