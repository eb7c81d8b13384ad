"""The driver's live display: a bar per running stage, one summary line per finished stage.

Fed from the stage's metrics file (``run_dir/<stage>/metrics.jsonl``), which a driver thread
polls while the stage's Ray job runs; never from worker stdout (that goes to ``log.txt``, which
``--verbose`` streams). Without a terminal (CI, ``| tee``) it prints one plain line every
``every`` steps and never redraws, so the output has no ANSI codes.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class FileTail:
    """New complete lines of a growing file since the last call (a torn last line waits)."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = Path(path), 0

    def lines(self) -> list[str]:
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        end = data.rfind(b"\n") + 1
        self.offset += end
        return data[:end].decode(errors="replace").split("\n")[:-1]


def stats_text(record: dict[str, Any]) -> str:
    """``reward 0.41  acc 0.38  difficulty 3.2`` from a metrics record (loss where there is no reward)."""
    acc = next((v for k, v in sorted(record.items()) if k.endswith("/accuracy") and not k.startswith("curriculum/")), None)
    parts = [("reward", record.get("reward")) if "reward" in record else ("loss", record.get("loss")), ("acc", acc),
             ("difficulty", record.get("curriculum/mean_difficulty"))]
    return "  ".join(f"{name} {value:.3f}" for name, value in parts if isinstance(value, (int, float)))


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


class StageProgress:
    """One display for the whole cascade; use as a context manager around ``run_cascade``."""

    def __init__(self, console: Console, every: int = 10, verbose: bool = False) -> None:
        self.console, self.every, self.verbose = console, max(1, every), verbose
        self.live = console.is_terminal
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("eta"),
            TimeRemainingColumn(), TextColumn("{task.fields[stats]}"), console=console, transient=False,
        )
        self._tasks: dict[str, tuple[TaskID | None, str, int | None, float]] = {}
        self._last: dict[str, dict[str, Any]] = {}
        self._first: dict[str, dict[str, Any]] = {}
        self._printed: dict[str, int] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> StageProgress:
        if self.live:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live:
            self.progress.stop()

    def _print(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def start(self, name: str, index: int, total: int, max_steps: int | None) -> None:
        label = f"[{index}/{total}] {name}"
        with self._lock:
            task = self.progress.add_task(label, total=max_steps, stats="") if self.live else None
            self._tasks[name] = (task, label, max_steps, time.monotonic())
            self._printed[name] = 0  # the driver's own "starting" line announces the stage

    def update(self, name: str, record: dict[str, Any]) -> None:
        """A metrics record of stage ``name``; records without a step (or the final summary) are skipped."""
        if "train_runtime" in record or not isinstance(record.get("step"), int):
            return
        with self._lock:
            task, label, max_steps, started = self._tasks[name]
            self._first.setdefault(name, record)
            self._last[name] = record
            step = record["step"]
            if self.live:
                self.progress.update(task, completed=step, stats=stats_text(record))
                return
            due = step // self.every > self._printed[name] // self.every or step == max_steps
            if due and step > self._printed[name]:
                self._printed[name] = step
                self._print(f"{label}: step {step}/{max_steps or '?'}  {_clock(time.monotonic() - started)}  {stats_text(record)}".rstrip())

    def log_line(self, name: str, line: str) -> None:
        """A worker log line (``--verbose``); a tqdm redraw keeps only its last state."""
        text = line.split("\r")[-1].strip()
        if text:
            self._print(f"{name} | {text}")

    def finish(self, name: str, status: str) -> None:
        """Replace the stage's bar by one line: status, steps, time, first -> last numbers."""
        with self._lock:
            task, label, max_steps, started = self._tasks.pop(name)
            if task is not None:
                self.progress.remove_task(task)
                self.progress.refresh()  # else the removed bar's last frame is redrawn under the line
            first, last = self._first.pop(name, {}), self._last.pop(name, {})
        change = f"{stats_text(first)} -> {stats_text(last)}" if last else "no metrics"
        steps = f"{last.get('step', 0)}/{max_steps or '?'} steps"
        self._print(f"{label}: {status}  {steps}  {_clock(time.monotonic() - started)}  {change}")


def resolved_max_steps(cfg: Any, stage: Any) -> int | None:
    """``max_steps`` as the trainer will see it (kind defaults < shared < stage); None if epoch-based."""
    from stages import get_stage_kind

    merged: dict[str, Any] = {}
    for layer in (get_stage_kind(stage.kind).trainer_defaults, cfg.trainer, stage.trainer):
        merged.update(layer or {})
    steps = merged.get("max_steps")
    return int(steps) if isinstance(steps, int) and steps > 0 else None


@contextmanager
def _watch(progress: StageProgress, cfg: Any, stage: Any, poll_s: float) -> Iterator[None]:
    names = [s.name for s in cfg.stages]
    path = Path(cfg.run_dir) / stage.name
    metrics, log = FileTail(path / "metrics.jsonl"), FileTail(path / "log.txt")
    progress.start(stage.name, names.index(stage.name) + 1, len(names), resolved_max_steps(cfg, stage))
    stop = threading.Event()

    def poll() -> None:
        for line in metrics.lines():
            try:
                progress.update(stage.name, json.loads(line))
            except json.JSONDecodeError:
                continue
        if progress.verbose:
            for line in log.lines():
                progress.log_line(stage.name, line)

    def loop() -> None:
        while not stop.wait(poll_s):
            poll()

    thread = threading.Thread(target=loop, name=f"progress:{stage.name}", daemon=True)
    thread.start()
    status = "failed"
    try:
        yield
        status = "done"
    finally:
        stop.set()
        thread.join()
        poll()
        progress.finish(stage.name, status)


def watch_stage(progress: StageProgress | None, cfg: Any, stage: Any, poll_s: float = 0.5) -> Any:
    """Context manager that draws ``stage`` while the body (its Ray job) runs; a no-op without a display."""
    return nullcontext() if progress is None else _watch(progress, cfg, stage, poll_s)
