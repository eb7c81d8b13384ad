"""`cascade report`: Markdown plus one PNG per metric family that the stages logged."""

from __future__ import annotations

import json
import subprocess
import sys

from cascade.manifest import Manifest
from cascade.report import write_report


def fake_run(tmp_path):
    run = tmp_path / "run"
    manifest = Manifest(run)
    manifest.set_order(["sft", "rl"])
    manifest.update("sft", "done", steps=2, metric="loss", start=3.0, end=1.0, wall_s=1.0)
    manifest.update("rl", "done", steps=3, metric="reward", start=0.1, end=0.6, wall_s=2.0)
    (run / "sft").mkdir()
    (run / "sft" / "metrics.jsonl").write_text("\n".join(json.dumps({"step": s, "loss": 3.0 - s}) for s in (1, 2)))
    rl = [
        {
            "step": s, "reward": 0.2 * s, "task/accuracy": 0.1 * s, "task/reason/correct": 0.1 * s,
            "task/reason/wrong_answer": 1 - 0.1 * s, "completions/mean_length": 10 - s,
            "curriculum/rlve/Multiplication/difficulty": 3 - s, "router/layer0/load_e0": 0.5,
        }
        for s in (1, 2, 3)
    ]
    (run / "rl").mkdir()
    (run / "rl" / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rl) + "\n{torn line")
    return run


def test_report_draws_every_logged_family(tmp_path):
    run = fake_run(tmp_path)
    report = write_report(run)
    text = report.read_text()
    for stem in ("training", "difficulty", "reasons", "length", "router_loads", "router_layers"):
        png = run / "plots" / f"{stem}.png"
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", stem
        assert f"plots/{stem}.png" in text
    assert "| rl | done | 3 | reward | 0.100 | 0.600 | 2.000 | - | - |" in text


def test_report_says_when_a_family_is_absent(tmp_path):
    run = fake_run(tmp_path)
    (run / "rl" / "metrics.jsonl").write_text(json.dumps({"step": 1, "reward": 0.5}))
    text = write_report(run).read_text()
    assert "no stage logged these metrics" in text and not (run / "plots" / "router_loads.png").exists()


def test_report_cli_rejects_a_directory_without_a_manifest(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "cascade.cli", "report", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2 and "no manifest.json" in proc.stderr


def test_report_notes_flag_a_stage_that_learned_nothing(tmp_path):
    run = fake_run(tmp_path)
    (run / "rl" / "metrics.jsonl").write_text(
        "\n".join(json.dumps({"step": s, "reward": 0.0, "grad_norm": 0.0, "dynamic_sampling/dropped_frac": 1.0}) for s in (1, 2))
    )
    row = next(line for line in write_report(run).read_text().splitlines() if line.startswith("| rl |"))
    assert "dynamic_sampling/dropped_frac: mean 1.00" in row and "grad_norm: 0 on 2/2" in row and "reward: 0 on every" in row


def test_report_shows_a_stage_eval_change(tmp_path):
    run = fake_run(tmp_path)
    manifest = Manifest(run)
    manifest.update("rl", "done", eval={"suite": "math", "before": {"pass@1": 0.2}, "after": {"pass@1": 0.35}, "delta": {"pass@1": 0.15}})
    assert "math: pass@1 0.200 -> 0.350 (+0.150)" in write_report(run).read_text()


def test_html_report_is_one_self_contained_page(tmp_path):
    import base64
    import re

    from cascade.config import CascadeConfig, dump_config
    from cascade.manifest import write_json_atomic

    run = fake_run(tmp_path)
    cfg = {"run_dir": str(run), "trainer": {"learning_rate": 1e-6}, "stages": [{"name": "sft", "kind": "sft"}, {"name": "rl", "kind": "reasoning_warmup", "trainer": {"temperature": 0.7}}]}
    (run / "config.yaml").write_text(dump_config(CascadeConfig.model_validate(cfg)))
    manifest = Manifest(run)
    manifest.update("rl", "done", recipe={"advantage": "maxrl", "dppo_delta": 0.1})
    manifest.data["eval_matrix"] = {"metric": "pass@1", "suites": ["math", "code"], "checkpoints": ["initial", "sft", "rl"],
                                    "values": {"math": {"initial": 0.1, "sft": 0.2, "rl": 0.4}, "code": {"initial": 0.0, "sft": None, "rl": 0.25}}}
    write_json_atomic(manifest.path, manifest.data)
    write_report(run, html=True)  # what `cascade report RUN_DIR --html` calls
    page = (run / "report.html").read_text()
    assert not re.search(r"""(src|href)=["'](?!data:)""", page), "no external files or URLs"
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 7  # eval matrix + 6 figures (every family logged in fake_run)
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert "<td>rl</td><td>0.400</td><td>0.250</td>" in page and "<td>sft</td><td>0.200</td><td>-</td>" in page
    assert "Recipe in effect" in page and "<td>maxrl</td>" in page
    assert "temperature: 0.7" in page and "learning_rate: 1.0e-06" in page, "stage config with the shared trainer merged"
    assert (run / "plots" / "eval_matrix.png").is_file() and "## Eval matrix" in (run / "report.md").read_text()
