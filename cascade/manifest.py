"""``run_dir/manifest.json``: each stage's status, checkpoint, metrics and timings.

Written atomically (temp file + rename) so a run killed mid-write never leaves a torn
manifest; resuming reads it to skip finished stages.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

Status = Literal["pending", "running", "done", "failed", "stale"]  # stale: an earlier stage was retrained since
# Marks a manifest this project wrote: ``--fresh`` deletes only directories that hold one.
WRITTEN_BY = "zaya-cascade"


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Manifest:
    """The run's ledger; every mutation is persisted before the call returns."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / "manifest.json"
        self.data: dict[str, Any] = {"written_by": WRITTEN_BY, "stages": {}}
        if self.path.is_file():
            self.data = {"written_by": WRITTEN_BY, **json.loads(self.path.read_text())}

    def stage(self, name: str) -> dict[str, Any]:
        return self.data["stages"].get(name, {"status": "pending"})

    def is_done(self, name: str) -> bool:
        return self.stage(name).get("status") == "done"

    def update(self, name: str, status: Status, **fields: Any) -> None:
        entry = {**self.stage(name), **fields, "status": status, "updated_at": time.time()}
        self.data["stages"][name] = entry
        write_json_atomic(self.path, self.data)

    def set_order(self, names: list[str]) -> None:
        self.set("order", names)

    def set(self, key: str, value: Any) -> None:
        """A run-level entry (the stage order, the eval matrix), persisted at once."""
        self.data[key] = value
        write_json_atomic(self.path, self.data)


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` holds a manifest this project wrote (so a ``--fresh`` may delete it)."""
    try:
        data = json.loads((Path(path) / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("written_by") == WRITTEN_BY
