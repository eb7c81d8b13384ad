"""Experiment tracking through the trainers' own ``report_to`` (tensorboard, wandb, trackio, mlflow).

The run is the group and each stage a run inside it: ``run_name`` is ``<run>/<stage>``, W&B's
group and MLflow's experiment are the run. TensorBoard writes ``run_dir/<stage>/tb``. Tracker
callbacks log from the world's rank 0 only (``state.is_world_process_zero`` in transformers'
integrations), so N workers log each step once. Offline use is the trackers' own switch
(``WANDB_MODE=offline``; TensorBoard and a file MLflow store need no network).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# Integrations the project documents; any other transformers integration is accepted as well.
TRACKERS = ("tensorboard", "wandb", "trackio", "mlflow")
ENV_KEYS = ("WANDB_PROJECT", "WANDB_RUN_GROUP", "WANDB_DIR", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_TRACKING_URI", "TENSORBOARD_LOGGING_DIR")


def tracking_defaults(run: str) -> dict[str, Any]:
    """The lowest config layer: no tracker unless the YAML names one; keep the trainer's own bar;
    trackio's project is the run (its callback reads ``project``, not the environment).

    ``transformers.logging.set_verbosity_error()`` (quiet workers) would otherwise default
    ``disable_tqdm`` to True and hide the trainer's bar from ``log.txt``.
    """
    return {"report_to": "none", "disable_tqdm": False, "project": run}


def tracking_args(stage_path: Path) -> dict[str, Any]:
    """Trainer arguments fixed by the run layout (``stage_path`` is ``run_dir/<stage>``)."""
    return {"run_name": f"{stage_path.parent.name}/{stage_path.name}"}


def tracking_env(stage_path: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    """Environment the tracker callbacks read at trainer construction; a value the user set wins.

    ``TENSORBOARD_LOGGING_DIR`` set by the user becomes the parent of ``<run>/<stage>`` so
    stages never share one event directory.
    """
    env = os.environ if environ is None else environ
    run_dir, run, stage = stage_path.parent, stage_path.parent.name, stage_path.name
    tb = Path(env["TENSORBOARD_LOGGING_DIR"]) / run / stage if env.get("TENSORBOARD_LOGGING_DIR") else stage_path / "tb"
    defaults = {
        "WANDB_PROJECT": "zaya-cascade",
        "WANDB_RUN_GROUP": run,
        "WANDB_DIR": str(run_dir),
        "MLFLOW_EXPERIMENT_NAME": run,
        "MLFLOW_TRACKING_URI": (run_dir / "mlruns").resolve().as_uri(),
    }
    out = {k: env.get(k) or v for k, v in defaults.items()}
    out["TENSORBOARD_LOGGING_DIR"] = str(tb)
    return out


# The user's own values, taken before any stage sets them: a Ray worker process that runs
# a second stage must not mistake the first stage's values for the user's.
_USER_ENV = {k: os.environ[k] for k in (*ENV_KEYS,) if k in os.environ}


def configure_tracking(stage_path: Path) -> dict[str, Any]:
    """Set the trackers' environment in this (worker) process; returns the fixed trainer args."""
    os.environ.update(tracking_env(stage_path, dict(_USER_ENV)))
    return tracking_args(stage_path)


def check_report_to(value: Any) -> str | None:
    """A problem with a ``report_to`` value, or None: every named tracker must be installed here."""
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK, get_available_reporting_integrations

    names = [value] if isinstance(value, str) else list(value or [])
    if names in (["none"], ["all"], []):
        return None
    unknown = [n for n in names if n not in INTEGRATION_TO_CALLBACK]
    if unknown:
        return f"unknown tracker(s) {unknown}; known: {', '.join(TRACKERS)} (or any of {sorted(INTEGRATION_TO_CALLBACK)})"
    missing = [n for n in names if n not in get_available_reporting_integrations()]
    if missing:
        return f"tracker(s) {missing} not installed in this environment (pip install {' '.join(missing)})"
    return None
