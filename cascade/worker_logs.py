"""A stage worker's output goes to ``run_dir/<stage>/log.txt``, not to the driver's console.

The driver draws one live display from the metrics file; worker stdout/stderr (the trainer's
own progress bar, warnings, tracebacks) is kept whole in the log file, which ``--verbose``
streams. Library bars for weight loading and shard writing are switched off.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def log_path(stage_path: Path, rank: int = 0) -> Path:
    """Rank 0 writes ``log.txt``; other ranks ``log.rank<k>.txt`` so lines never interleave."""
    return stage_path / ("log.txt" if rank == 0 else f"log.rank{rank}.txt")


def silence_library_bars() -> None:
    """No "Loading weights" / "Writing model shards" / download bars; the Trainer's own bar stays.

    The Trainer's ``ProgressCallback`` uses tqdm directly, not these switches.
    """
    import huggingface_hub.utils
    import transformers.utils.logging

    huggingface_hub.utils.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    try:
        import datasets

        datasets.disable_progress_bars()
    except ImportError:  # pragma: no cover - datasets is a dependency
        pass


@contextmanager
def worker_logs(path: Path) -> Iterator[Path]:
    """Redirect this process's file descriptors 1 and 2 (C extensions and subprocesses too) to
    ``path``, appending; restore them on exit, also when the body raises."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = (os.dup(1), os.dup(2))
    try:
        with path.open("a", buffering=1) as f:
            os.dup2(f.fileno(), 1)
            os.dup2(f.fileno(), 2)
            try:
                silence_library_bars()
                yield path
            finally:
                for stream in (sys.stdout, sys.stderr):
                    stream.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
    finally:
        for fd in saved:
            os.close(fd)
