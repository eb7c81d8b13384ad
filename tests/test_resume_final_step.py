"""A stage killed after its trainer's last save is finalised from that checkpoint, never trained past max_steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from cascade.config import CascadeConfig
from cascade.runner import run_stage


@pytest.mark.slow
def test_a_stage_whose_last_checkpoint_is_its_final_step_is_only_finalised(tmp_path):
    torch.set_num_threads(1)
    cfg = CascadeConfig.model_validate({
        "run_dir": str(tmp_path / "run"), "keep_checkpoints": True,
        "stages": [{"name": "sft", "kind": "sft", "num_tasks": 32, "envs": [{"id": "arith/add"}],
                    "trainer": {"max_steps": 3, "save_steps": 3, "per_device_train_batch_size": 4}}],
    })
    first = run_stage(cfg, "sft", None)
    assert first["steps"] == 3
    stage = Path(cfg.run_dir) / "sft"
    ckpt = stage / "checkpoints" / "checkpoint-3"
    assert ckpt.is_dir()
    lines = (stage / "metrics.jsonl").read_text().splitlines()
    # the kill: after the trainer's last save, before `final` was written
    import shutil

    shutil.rmtree(stage / "final")
    again = run_stage(cfg, "sft", None)
    assert again["steps"] == 3 and again["resumed_from"].endswith("checkpoint-3")
    assert (stage / "metrics.jsonl").read_text().splitlines() == lines  # no step was trained again
    steps = [json.loads(line)["step"] for line in lines]
    assert max(steps) == 3
    final = AutoModelForCausalLM.from_pretrained(stage / "final")
    saved = AutoModelForCausalLM.from_pretrained(ckpt)
    for (name, a), (_, b) in zip(final.state_dict().items(), saved.state_dict().items()):
        assert torch.equal(a, b), name  # the final policy is the checkpoint's, not a further step


def test_a_torn_checkpoint_is_skipped_and_removed(tmp_path):
    from cascade.stage_setup import last_complete_checkpoint

    for step, whole in ((10, True), (20, True), (30, False)):  # checkpoint-30: killed mid-save
        ckpt = tmp_path / f"checkpoint-{step}"
        ckpt.mkdir()
        (ckpt / "model.safetensors").write_text("w")
        if whole:
            (ckpt / "trainer_state.json").write_text("{}")
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-20")
    assert not (tmp_path / "checkpoint-30").exists()
    assert last_complete_checkpoint(tmp_path / "absent") is None
