"""Config loading: clear errors naming file, key path and problem; overrides; shipped configs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cascade.config import ConfigError, apply_overrides, dump_config, load_config

# math_code_rl asks for DPPO, which cannot act on-policy (one iteration per rollout): say so, or loading fails
RL_STAGE = {"name": "rl", "kind": "math_code_rl", "trainer": {"allow_inactive": ["dppo"]}}
MINIMAL = {"run_dir": "runs/x", "stages": [{"name": "sft", "kind": "sft"}, RL_STAGE]}


def write(tmp_path: Path, data) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_minimal_config_loads_with_defaults(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL))
    assert cfg.policy.name_or_path == "tiny" and cfg.ray.address is None
    assert [s.name for s in cfg.stages] == ["sft", "rl"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(bogus=1), "bogus: Extra inputs are not permitted"),
        (lambda d: d.update(seed="abc"), "seed: Input should be a valid integer"),
        (lambda d: d["stages"][1].update(kind="nonsense"), "stages[1].kind: Value error, unknown stage kind 'nonsense'"),
        (lambda d: d["stages"][0].update(trainer={"learning_rat": 1}), "stages[0].trainer.learning_rat: unknown trainer option"),
        (lambda d: d["stages"][1].update(trainer={"num_generations": "many"}), "stages[1].trainer.num_generations: Input should be a valid integer"),
        (lambda d: d.update(trainer={"max_steps": [1]}), "trainer.max_steps: Input should be a valid integer"),
        (lambda d: d["stages"][1].update(envs=[{"id": "data/math", "options": {"path": "/no/such.jsonl"}}]), "stages[1].envs[0].options.path: no such file"),
        (lambda d: d["stages"].append({"name": "sft", "kind": "sft"}), "stage names must be unique; repeated: sft"),
        (lambda d: d["stages"][0].update(trainer={"output_dir": "/tmp/x"}), "stages[0].trainer.output_dir: is set by the run layout"),
        (lambda d: d.pop("run_dir"), "run_dir: Field required"),
        (lambda d: d["policy"].update(name_or_path="./missing-model") if "policy" in d else d.update(policy={"name_or_path": "./missing-model"}), "policy.name_or_path: no such path"),
    ],
)
def test_bad_configs_name_file_key_and_problem(tmp_path, mutate, expected):
    data = yaml.safe_load(yaml.safe_dump(MINIMAL))
    mutate(data)
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: ")
    assert expected in str(err.value)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("run_dir: [unclosed")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(bad)


def test_set_overrides_by_index_and_by_stage_name(tmp_path):
    cfg = load_config(
        write(tmp_path, MINIMAL),
        ["seed=7", "stages.rl.trainer.max_steps=3", "stages.0.num_tasks=9", "ray.num_cpus=2", "trainer.learning_rate=1e-5"],
    )
    assert cfg.seed == 7 and cfg.ray.num_cpus == 2
    assert cfg.stage("rl").trainer == {"max_steps": 3, "allow_inactive": ["dppo"]}
    assert cfg.stages[0].num_tasks == 9
    assert cfg.trainer["learning_rate"] == 1e-5


def test_bad_overrides_are_config_errors(tmp_path):
    path = write(tmp_path, MINIMAL)
    with pytest.raises(ConfigError, match="expected key.path=value"):
        load_config(path, ["seed"])
    with pytest.raises(ConfigError, match="no list entry 'missing'"):
        load_config(path, ["stages.missing.num_tasks=1"])
    with pytest.raises(ConfigError, match=r"stages\[0\].num_tasks: Input should be greater than or equal to 1"):
        load_config(path, ["stages.sft.num_tasks=0"])


def test_overrides_do_not_mutate_input():
    data = {"a": {"b": 1}}
    assert apply_overrides(data, ["a.b=2"]) == {"a": {"b": 2}} and data == {"a": {"b": 1}}


def test_resolved_config_round_trips(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL), ["seed=3"])
    again = load_config(write(tmp_path, yaml.safe_load(dump_config(cfg))))
    assert again == cfg


@pytest.mark.parametrize("name", ["tiny.yaml", "zaya1-8b.yaml"])
def test_shipped_configs_validate(root, name):
    cfg = load_config(root / "configs" / name)
    kinds = [s.kind for s in cfg.stages]
    for kind in ("reasoning_warmup", "rlve_curriculum", "math_code_rl", "behavioral_rl"):
        assert kind in kinds


def test_cli_exits_2_with_one_line_before_running(tmp_path):
    path = write(tmp_path, {**MINIMAL, "bogus": 1})
    proc = subprocess.run(
        [sys.executable, "-m", "cascade.cli", "run", str(path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "bogus" in lines[0] and str(path) in lines[0]
    assert not Path("runs/x").exists()
