"""Every name and option in a config is checked at load, before Ray or anything else starts.

Each mistake is one line ``file: key.path: problem``; the CLI exits 2 with it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cascade.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]
BASE = {
    "run_dir": "runs/x",
    "trainer": {"allow_inactive": ["dppo"]},  # on-policy: DPPO's mask cannot act, listed as inactive
    "stages": [
        {"name": "sft", "kind": "sft", "envs": [{"id": "arith/add"}]},
        {"name": "rl", "kind": "reasoning_warmup", "envs": [{"id": "arith/add"}]},
    ],
}


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def rl(**fields) -> dict:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data["stages"][1].update(fields)
    return data


CASES = [
    (rl(envs=[{"id": "arith/addd"}]), "stages[1].envs[0].id: unknown environment 'arith/addd'; did you mean 'arith/add'?"),
    (rl(envs=[{"id": "rlve/NoSuchEnvironment"}]), "stages[1].envs[0].id: unknown environment 'rlve/NoSuchEnvironment'"),
    (rl(envs=[{"id": "rlve/Nope*"}]), "stages[1].envs[0].id: env pattern 'rlve/Nope*' matches no registered environment"),
    (rl(envs=[{"id": "arith/add", "options": {"max_valu": 3}}]),
     "stages[1].envs[0].options.max_valu: unknown option 'max_valu' (known: max_value, split, test_fraction)"),
    (rl(envs=[{"id": "arith/add", "options": {"max_value": "big"}}]),
     "stages[1].envs[0].options.max_value: 'big': Input should be a valid integer"),
    (rl(envs=[{"id": "rlve/Multiplication", "options": {"timeout": 3}}]),
     "stages[1].envs[0].options.timeout: unknown option 'timeout' (known: env_kwargs, timeout_s)"),
    (rl(envs=[{"id": "rg/*", "options": {"range_mod": "x"}}]), "stages[1].envs[0].options.range_mod: unknown option"),
    (rl(envs=[{"id": "code/problems", "options": {"max_test": 3}}]), "stages[1].envs[0].options.max_test: unknown option"),
    (rl(envs=[{"id": "if/simple", "options": {"instruction_id": "easy"}}]), "stages[1].envs[0].options.instruction_id: unknown"),
    (rl(envs=[{"id": "data/tiny_arith", "options": {"limt": 3}}]), "stages[1].envs[0].options.limt: unknown option"),
    (rl(envs=[]), "stages[1].envs: the stage has no environments"),
    (rl(rewards=[{"name": "mathh"}]), "stages[1].rewards[0].name: unknown reward 'mathh'; did you mean 'math'?"),
    (rl(rewards=[{"name": "task", "options": {"timeout_s": 3}}]), "stages[1].rewards[0].options: the task reward takes no options"),
    (rl(rewards=[{"name": "math", "options": {"timeoutt": 3}}]), "stages[1].rewards[0].options.timeoutt: unknown option 'timeoutt'"),
    (rl(rewards=[{"name": "reward_model", "options": {"gatee": "task"}}]), "stages[1].rewards[0].options.gatee: unknown option"),
    (rl(rewards=[{"name": "reward_model", "options": {"gate": "always"}}]), "stages[1].rewards[0].options.gate: must be one of"),
    (rl(rewards=[]), "stages[1].rewards: a grpo stage needs at least one reward"),
    ({**BASE, "verifiers": {"mathh": {}}}, "verifiers.mathh: unknown verifier 'mathh'"),
    ({**BASE, "verifiers": {"math": {"timeoutt": 1}}}, "verifiers.math.timeoutt: unknown option 'timeoutt'"),
    (rl(verifiers={"code": {"time_limit_s": "fast"}}), "stages[1].verifiers.code.time_limit_s: 'fast': Input should be a valid number"),
    (rl(verifiers={"code": {"time_limt_s": 2}}), "stages[1].verifiers.code.time_limt_s: unknown option"),
    (rl(verifiers={"rlve": {"mode": "shaped"}}, rewards=[{"name": "rlve", "options": {"mode": "binary"}}]),
     "stages[1].rewards[0].options.mode: conflicts with verifiers.rlve.mode='shaped'; set it once"),
    (rl(curriculum={"kind": "zayaa"}), "stages[1].curriculum: unknown curriculum kind (known: fixed, rlve, zaya)"),
    (rl(curriculum={"kind": "zaya", "options": {"window": 3}}), "stages[1].curriculum.options.window: Extra inputs are not permitted"),
    (rl(curriculum={"kind": "rlve", "options": {"sampling": "most_sampled"}}), "stages[1].curriculum.options.sampling: Input should be"),
    (rl(curriculum={"kind": "zaya", "options": {"include": ["rlve/*"]}}),
     "stages[1].curriculum.options: curriculum has no training environments after include/exclude/held_out"),
    (rl(curriculum={"kind": "zaya", "calibrate": {"rounds": 0}}), "stages[1].curriculum.calibrate.rounds: Input should be greater"),
    (rl(curriculum={"kind": "zaya", "calibrate": {"lo": 5, "hi": 2}}), "stages[1].curriculum.calibrate: Value error, lo (5) must not"),
    (rl(curriculum={"kind": "fixed", "calibrate": {}}), "stages[1].curriculum.calibrate: Extra inputs are not permitted"),
    (rl(curriculum={"kind": "zaya"}, envs=[{"id": "arith/add", "difficulty": 2}]),
     "stages[1].envs[0].difficulty: the zaya curriculum sets difficulties; use stages[1].curriculum.options.initial_difficulty"),
]


@pytest.mark.parametrize(("data", "expected"), CASES, ids=[c[1].split(":")[0] + ":" + c[1].split(":")[1][:30] for c in CASES])
def test_each_mistake_is_one_line_naming_file_key_path_and_problem(tmp_path, data, expected):
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert expected in message


def test_sft_stage_rejects_rewards_and_calibration(tmp_path):
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data["stages"][0]["curriculum"] = {"kind": "zaya", "calibrate": {}}
    with pytest.raises(ConfigError, match=r"stages\[0\]\.curriculum\.calibrate: calibration measures pass rates"):
        load_config(write(tmp_path, data))
    data["stages"][0] = {"name": "sft", "kind": "sft", "rewards": [{"name": "task"}]}
    with pytest.raises(ConfigError, match=r"stages\[0\]\.rewards: an sft stage .* uses no rewards"):
        load_config(write(tmp_path, data))


def test_verifier_options_are_layered_per_stage_and_accepted(tmp_path):
    data = rl(verifiers={"math": {"timeout_s": 2.0}}, curriculum={"kind": "zaya", "calibrate": {"rounds": 2, "hi": 5}})
    data["verifiers"] = {"math": {"timeout_s": 9.0, "max_answer_chars": 50}, "code": {"time_limit_s": 2}}
    cfg = load_config(write(tmp_path, data))
    rl_stage, sft_stage = cfg.stage("rl"), cfg.stage("sft")
    assert cfg.verifier_options(rl_stage) == {"code": {"time_limit_s": 2}, "math": {"timeout_s": 2.0, "max_answer_chars": 50}}
    assert cfg.verifier_options(sft_stage)["math"] == {"timeout_s": 9.0, "max_answer_chars": 50}
    assert rl_stage.curriculum.calibrate.rounds == 2


def test_verifier_options_reach_the_verifiers_the_pool_builds(tmp_path, monkeypatch):
    import ray

    from cascade.stage_setup import verifier_pool as _verifier_pool

    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # an in-process pool, whose verifiers we can inspect,
    # even when an earlier test left a Ray cluster up

    data = rl(verifiers={"math": {"max_answer_chars": 5}}, rewards=[{"name": "task"}, {"name": "rlve", "options": {"mode": "binary"}}])
    cfg = load_config(write(tmp_path, data))
    stage = cfg.stage("rl")
    pool = _verifier_pool(cfg, stage, stage.rewards)
    long_answer = "\\boxed{123456789}"
    verdict = pool.verify([("math", long_answer, {"answer": "123456789"})])[0]
    assert not verdict.correct  # the 5-character cap from the YAML is in effect
    assert pool.verify([("math", "\\boxed{12}", {"answer": "12"})])[0].correct
    assert pool._cache._cache["math"].max_answer_chars == 5
    pool.verify([("rlve", "x", {})])
    assert pool._cache._cache["rlve"].mode == "binary"


def readme_yaml_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)


def test_readme_has_yaml_examples():
    assert readme_yaml_blocks()


@pytest.mark.parametrize("index", range(len(readme_yaml_blocks())))
def test_every_readme_yaml_example_validates(tmp_path, monkeypatch, index):
    (tmp_path / "data").symlink_to(ROOT / "data")  # as in the repo: examples live in configs/, data beside it
    (tmp_path / "configs").mkdir()
    path = tmp_path / "configs" / "example.yaml"
    path.write_text(readme_yaml_blocks()[index])
    load_config(path)


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "configs").glob("*.yaml") if "stages" in p.read_text()))
def test_shipped_configs_validate(monkeypatch, name):
    monkeypatch.chdir(ROOT)
    load_config(ROOT / "configs" / name)


def test_cli_run_with_an_unknown_env_exits_2_in_one_line_before_anything_starts(tmp_path):
    data = rl(envs=[{"id": "arith/addd"}])
    data["run_dir"] = str(tmp_path / "run")
    path = write(tmp_path, data)
    probe = "import runpy, sys; sys.argv = ['cascade', 'run', %r]\ntry:\n    runpy.run_module('cascade.cli', run_name='__main__')\n" \
            "finally:\n    print('ray imported' if 'ray' in sys.modules else 'ray never imported')" % str(path)
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {path}: stages[1].envs[0].id: unknown environment 'arith/addd'; did you mean 'arith/add'? (see `cascade envs list`)"
    ]
    assert "ray never imported" in proc.stdout
    assert not (tmp_path / "run").exists()  # no run dir, no manifest: nothing started


def test_every_env_of_the_shipped_eval_suites_checks_clean():
    from cascade.config_checks import check_env, env_ids

    suites = yaml.safe_load((ROOT / "configs" / "inference" / "eval_suites.yaml").read_text())["suites"]
    envs = [(name, env) for name, suite in suites.items() for env in suite.get("envs", [])]
    assert envs
    for name, env in envs:
        ids = env_ids(env["id"])
        assert ids, (name, env)
        assert check_env(ids[0], env.get("options", {})) == [], (name, env)
