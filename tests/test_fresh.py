"""``--fresh`` deletes only a run directory this project wrote, never an arbitrary folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cascade.config import ConfigError, load_config
from cascade.driver import prepare_run_dir
from cascade.manifest import Manifest

ROOT = Path(__file__).resolve().parents[1]


def config(tmp_path: Path, run_dir: Path) -> Path:
    data = {"run_dir": str(run_dir), "stages": [{"name": "sft", "kind": "sft", "envs": [{"id": "arith/add"}]}]}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_fresh_refuses_a_folder_without_our_manifest_and_keeps_it(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("keep me")
    (notes / "manifest.json").write_text('{"stages": {}}')  # a manifest, but not one we wrote
    cfg = load_config(config(tmp_path, notes))
    with pytest.raises(ConfigError, match="is not a cascade run directory"):
        prepare_run_dir(cfg, fresh=True)
    assert (notes / "todo.txt").read_text() == "keep me"


def test_fresh_removes_a_run_dir_we_wrote(tmp_path):
    run = tmp_path / "run"
    Manifest(run).update("sft", "done", checkpoint="x")
    (run / "sft").mkdir()
    cfg = load_config(config(tmp_path, run))
    manifest = prepare_run_dir(cfg, fresh=True)
    assert not (run / "sft").exists() and manifest.stage("sft")["status"] == "pending"
    assert Manifest(run).data["written_by"] == "zaya-cascade"


def test_cli_fresh_on_a_notes_folder_exits_2_in_one_line(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("keep me")
    proc = subprocess.run([sys.executable, "-m", "cascade.cli", "run", str(config(tmp_path, notes)), "--fresh"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--fresh" in lines[0] and "not a cascade run directory" in lines[0]
    assert (notes / "todo.txt").read_text() == "keep me"
