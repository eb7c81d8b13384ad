"""The driver's live display, fed from a stage's metrics file while the stage runs."""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

from rich.console import Console

from cascade.config import CascadeConfig
from cascade.progress import FileTail, StageProgress, resolved_max_steps, watch_stage

ANSI = re.compile(r"\x1b\[")


def config(tmp_path) -> CascadeConfig:
    return CascadeConfig.model_validate({
        "run_dir": str(tmp_path / "run"),
        "trainer": {"max_steps": 30},
        "stages": [{"name": "sft", "kind": "sft", "trainer": {"max_steps": 5}}, {"name": "rl", "kind": "rlve_curriculum"}],
    })


def fake_stage(cfg: CascadeConfig, name: str, steps: int, pause: float = 0.0) -> None:
    """What a stage job does to the metrics file: one record per step, a summary line at the end."""
    path = Path(cfg.run_dir) / name
    path.mkdir(parents=True, exist_ok=True)
    with (path / "metrics.jsonl").open("a") as f:
        for step in range(1, steps + 1):
            rec = {"step": step, "reward": step / steps, "task/accuracy": 0.5 * step / steps, "curriculum/mean_difficulty": 2.0 + step}
            f.write(json.dumps(rec) + "\n")
            f.flush()
            time.sleep(pause)
        f.write(json.dumps({"step": steps, "train_runtime": 1.0}) + "\n")
    (path / "log.txt").write_text("worker says hi\n 40%|####      | 2/5\r 100%|##########| 5/5\n")


def run_display(tmp_path, terminal: bool, verbose: bool = False) -> str:
    cfg = config(tmp_path)
    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=160, color_system="standard" if terminal else None)
    with StageProgress(console, every=10, verbose=verbose) as progress:
        for stage, steps in ((cfg.stages[0], 5), (cfg.stages[1], 30)):
            with watch_stage(progress, cfg, stage, poll_s=0.01):
                fake_stage(cfg, stage.name, steps, pause=0.005)
    return out.getvalue()


def test_max_steps_follows_the_trainer_layers(tmp_path):
    cfg = config(tmp_path)
    assert resolved_max_steps(cfg, cfg.stages[0]) == 5 and resolved_max_steps(cfg, cfg.stages[1]) == 30


def test_without_a_terminal_plain_lines_every_n_steps_and_no_ansi(tmp_path):
    text = run_display(tmp_path, terminal=False)
    assert not ANSI.search(text)
    lines = text.splitlines()
    assert "[1/2] sft: step 5/5" in text
    steps = [l for l in lines if l.startswith("[2/2] rl: step")]
    assert [l.split()[3] for l in steps] == ["10/30", "20/30", "30/30"]
    assert "reward 1.000  acc 0.500  difficulty 32.000" in steps[-1]
    done = [l for l in lines if ": done" in l]
    assert len(done) == 2 and "30/30 steps" in done[1] and "reward 0.033" in done[1] and "-> reward 1.000" in done[1]
    assert "worker says hi" not in text


def test_on_a_terminal_a_live_bar_then_one_summary_line_per_stage(tmp_path):
    text = run_display(tmp_path, terminal=True)
    assert ANSI.search(text), "a terminal gets the live display"
    plain = ANSI.sub("", re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text))
    assert "[2/2] rl" in plain and "30/30" in plain and "reward" in plain and "difficulty" in plain
    assert plain.count("[1/2] sft: done") == 1 and plain.count("[2/2] rl: done") == 1


def test_verbose_streams_the_worker_log_last_bar_state_only(tmp_path):
    text = run_display(tmp_path, terminal=False, verbose=True)
    assert "sft | worker says hi" in text and "sft | 100%|##########| 5/5" in text and "40%" not in text


def test_a_failing_stage_is_reported_failed(tmp_path):
    cfg = config(tmp_path)
    out = io.StringIO()
    with StageProgress(Console(file=out, force_terminal=False), every=1) as progress:
        try:
            with watch_stage(progress, cfg, cfg.stages[0], poll_s=0.01):
                raise RuntimeError("boom")
        except RuntimeError:
            pass
    assert "[1/2] sft: failed  0/5 steps" in out.getvalue()


def test_file_tail_waits_for_a_torn_line(tmp_path):
    path = tmp_path / "m.jsonl"
    tail = FileTail(path)
    assert tail.lines() == []
    path.write_text('{"step": 1}\n{"st')
    assert tail.lines() == ['{"step": 1}']
    with path.open("a") as f:
        f.write('ep": 2}\n')
    assert tail.lines() == ['{"step": 2}']
