"""A rerun notices what changed: a finished stage is never kept when its config or input moved."""

from __future__ import annotations

from pathlib import Path

import pytest

from cascade import driver
from cascade.config import CascadeConfig, ConfigError
from cascade.manifest import Manifest

STAGES = ["a", "b", "c"]


@pytest.fixture()
def fake_training(monkeypatch):
    """Stages 'train' by writing a checkpoint file; records which ran."""
    ran: list[str] = []

    def run_stage_remote(cfg, stage, init):
        ran.append(stage.name)
        final = Path(cfg.run_dir) / stage.name / "final"
        final.mkdir(parents=True, exist_ok=True)
        (final / "model.safetensors").write_text(f"{stage.name} from {init} #{len(ran)}")
        return {"checkpoint": str(final), "steps": 1}

    monkeypatch.setattr(driver, "run_stage_remote", run_stage_remote)
    monkeypatch.setattr(driver, "start_ray", lambda settings: None)
    return ran


def _cfg(tmp_path: Path, **b_trainer) -> CascadeConfig:
    stages = [{"name": n, "kind": "sft", "trainer": {"max_steps": 2, **(b_trainer if n == "b" else {})}} for n in STAGES]
    return CascadeConfig.model_validate({"run_dir": str(tmp_path / "run"), "stages": stages})


def test_a_changed_finished_stage_stops_the_rerun_naming_stage_and_keys(tmp_path, fake_training):
    driver.run_cascade(_cfg(tmp_path), notify=lambda _: None)
    assert fake_training == STAGES
    with pytest.raises(ConfigError, match=r"stage b was trained with another config \(changed: trainer.max_steps\).*--from b"):
        driver.run_cascade(_cfg(tmp_path, max_steps=5), notify=lambda _: None)
    assert fake_training == STAGES  # nothing ran, and the resolved config on disk still says max_steps 2
    assert "max_steps: 5" not in (tmp_path / "run" / "config.yaml").read_text()
    driver.run_cascade(_cfg(tmp_path, max_steps=5), start="b", notify=lambda _: None)
    assert fake_training == [*STAGES, "b", "c"]  # --from b retrains b and everything after it
    driver.run_cascade(_cfg(tmp_path, max_steps=5), notify=lambda _: None)
    assert fake_training == [*STAGES, "b", "c"]  # and now the rerun redoes nothing


def test_retraining_one_stage_makes_the_later_ones_stale_and_the_next_run_retrains_them(tmp_path, fake_training):
    cfg = driver.absolutize(_cfg(tmp_path))
    driver.run_cascade(cfg, notify=lambda _: None)
    manifest = Manifest(Path(cfg.run_dir))
    driver.reset_stage(cfg, manifest, "a")  # what `cascade stage CONFIG a` does ...
    driver.run_one(cfg, manifest, cfg.stage("a"), None, notify=lambda _: None)  # ... then it trains a alone
    assert [manifest.stage(n)["status"] for n in STAGES] == ["done", "stale", "stale"]
    driver.run_cascade(cfg, notify=lambda _: None)
    assert fake_training == [*STAGES, "a", "b", "c"]
    assert [Manifest(Path(cfg.run_dir)).stage(n)["status"] for n in STAGES] == ["done"] * 3


def test_a_stage_whose_input_checkpoint_changed_underneath_is_not_kept(tmp_path, fake_training):
    cfg = driver.absolutize(_cfg(tmp_path))
    driver.run_cascade(cfg, notify=lambda _: None)
    weights = Path(Manifest(Path(cfg.run_dir)).stage("a")["checkpoint"]) / "model.safetensors"
    weights.write_text("a retrained by hand, elsewhere")
    with pytest.raises(ConfigError, match="stage b was trained from another checkpoint"):
        driver.run_cascade(cfg, notify=lambda _: None)
