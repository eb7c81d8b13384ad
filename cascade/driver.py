"""The Ray driver: runs the cascade's stages in order on Ray and keeps the manifest.

A stage of ``resources.num_workers`` > 1 is a Ray Train job (``cascade/stage_job.py``); a
one-worker stage is one Ray task running the same ``runner.run_stage``.

Stage N's final checkpoint becomes stage N+1's policy. Running the same command again
resumes: finished stages are skipped, and an interrupted stage restarts from its last
trainer checkpoint (the runner finds it in ``run_dir/<stage>/checkpoints``).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cascade.config import CascadeConfig, ConfigError, RaySettings, StageConfig, dump_config
from cascade.manifest import Manifest

Notify = Callable[[str], None]


def start_ray(settings: RaySettings) -> None:
    """Join ``ray.address`` / ``RAY_ADDRESS`` if set, else start a light embedded cluster."""
    import ray

    if ray.is_initialized():
        return
    address = settings.address or os.environ.get("RAY_ADDRESS")
    common = {"log_to_driver": settings.log_to_driver, "configure_logging": True, "logging_level": "warning"}
    if address:
        ray.init(address=address, **common)
    else:
        ray.init(
            num_cpus=settings.num_cpus,
            num_gpus=settings.num_gpus,
            include_dashboard=settings.include_dashboard,
            **common,
        )


def absolutize(cfg: CascadeConfig) -> CascadeConfig:
    """Relative paths are relative to where the command runs; Ray workers may run elsewhere."""
    data = cfg.model_dump()
    data["run_dir"] = str(Path(data["run_dir"]).resolve())
    for stage in data["stages"]:
        for env in stage.get("envs") or []:
            for key, value in env["options"].items():
                if key.endswith("path") and isinstance(value, str):
                    env["options"][key] = str(Path(value).resolve())
    policy = data["policy"]["name_or_path"]
    if policy != "tiny" and Path(policy).exists():
        data["policy"]["name_or_path"] = str(Path(policy).resolve())
    return CascadeConfig.model_validate(data)


def run_stage_remote(cfg: CascadeConfig, stage: StageConfig, init: str | None) -> dict[str, Any]:
    """Run one stage on Ray with the resources its config names; block for rank 0's summary.

    ``num_workers > 1``: a Ray Train ``TorchTrainer`` job (``cascade/stage_job.py``).
    ``num_workers: 1``: one Ray task, as before Ray Train, running the same ``run_stage``. A
    one-worker Train job has no process group to set up, yet on the 2-core CI machine it cost
    ~90 s per stage against ~8 s for a task on a warm Ray worker (Train starts a controller and
    fresh worker actors every time): x5 stages of the tiny cascade. Either way a stage the
    cluster can never hold fails before launching.
    """
    from cascade.stage_job import run_stage_job, run_stage_task

    if stage.resources.num_workers == 1:
        return run_stage_task(cfg, stage, init)
    return run_stage_job(cfg, stage, init)


def _select(cfg: CascadeConfig, start: str | None, until: str | None) -> list[str]:
    names = [s.name for s in cfg.stages]
    for flag, value in (("--from", start), ("--until", until)):
        if value is not None and value not in names:
            raise ConfigError(f"{flag} {value}: no such stage (stages: {', '.join(names)})")
    lo = names.index(start) if start else 0
    hi = names.index(until) + 1 if until else len(names)
    if lo >= hi:
        raise ConfigError(f"--from {start} comes after --until {until}")
    return names[lo:hi]


def prepare_run_dir(cfg: CascadeConfig, fresh: bool) -> Manifest:
    run_dir = Path(cfg.run_dir)
    if fresh and run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(dump_config(cfg))
    return Manifest(run_dir)


def run_cascade(
    cfg: CascadeConfig,
    start: str | None = None,
    until: str | None = None,
    fresh: bool = False,
    notify: Notify = print,
) -> Manifest:
    """Run the selected stages in order; ``--from`` reruns that stage and what follows it."""
    from cascade.plan import plan

    cfg = absolutize(cfg)
    selected = _select(cfg, start, until)
    plan(cfg)  # every stage's trainer args and batch arithmetic, before anything starts
    manifest = prepare_run_dir(cfg, fresh)
    manifest.set_order([s.name for s in cfg.stages])
    start_ray(cfg.ray)
    init: str | None = None
    for i, stage in enumerate(cfg.stages, 1):
        if stage.name not in selected:
            init = manifest.stage(stage.name).get("checkpoint", init)
            continue
        if start is not None and manifest.stage(stage.name).get("status") != "pending":
            reset_stage(cfg, manifest, stage.name)
        if manifest.is_done(stage.name):
            notify(f"[{i}/{len(cfg.stages)}] {stage.name}: done already, skipped")
            init = manifest.stage(stage.name)["checkpoint"]
            continue
        notify(f"[{i}/{len(cfg.stages)}] {stage.name} ({stage.kind}) starting")
        init = run_one(cfg, manifest, stage, init)
    return manifest


def run_one(cfg: CascadeConfig, manifest: Manifest, stage: StageConfig, init: str | None) -> str:
    """Run a stage under the manifest's bookkeeping; returns its final checkpoint."""
    started = time.time()
    manifest.update(stage.name, "running", kind=stage.kind, init_checkpoint=init, started_at=started)
    try:
        summary = run_stage_remote(cfg, stage, init)
    except BaseException as exc:
        manifest.update(stage.name, "failed", error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    manifest.update(stage.name, "done", finished_at=time.time(), **summary)
    return summary["checkpoint"]


def reset_stage(cfg: CascadeConfig, manifest: Manifest, name: str) -> None:
    shutil.rmtree(Path(cfg.run_dir) / name, ignore_errors=True)
    manifest.update(name, "pending")
