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
from cascade.manifest import Manifest, is_run_dir
from cascade.progress import StageProgress, watch_stage
from cascade.run_owner import record_owner, release, take_over

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
    evals = [s["eval"] for s in data["stages"] if isinstance(s.get("eval"), dict)] + list(data["evals"].values())
    env_lists = [s.get("envs") or [] for s in data["stages"]] + [e.get("envs") or [] for e in evals]
    for envs in env_lists:
        for env in envs:
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
        refuse_unless_run_dir(run_dir)
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(dump_config(cfg))
    return Manifest(run_dir)


def refuse_unless_run_dir(run_dir: Path) -> None:
    """``--fresh`` deletes only an empty directory or one holding a manifest written by us."""
    if run_dir.is_dir() and not any(run_dir.iterdir()):
        return
    if not is_run_dir(run_dir):
        raise ConfigError(
            f"--fresh: {run_dir} is not a cascade run directory (no manifest.json written by zaya-cascade); "
            "refusing to delete it. Pick another run_dir or remove it yourself"
        )


def run_cascade(
    cfg: CascadeConfig,
    start: str | None = None,
    until: str | None = None,
    fresh: bool = False,
    notify: Notify = print,
    progress: StageProgress | None = None,
) -> Manifest:
    """Run the selected stages in order; ``--from`` reruns that stage and what follows it."""
    from cascade.plan import plan

    cfg = absolutize(cfg)
    selected = _select(cfg, start, until)
    plan(cfg)  # every stage's trainer args and batch arithmetic, before anything starts
    if not fresh:  # before anything is written: a changed finished stage stops the run here
        check_finished_stages(cfg, Manifest(Path(cfg.run_dir)), selected[0] if start else None)
    run_dir = Path(cfg.run_dir)
    take_over(run_dir, notify)  # a live driver on this run_dir: exit 2; a killed one's Ray workers: stopped
    manifest = prepare_run_dir(cfg, fresh)
    manifest.set_order([s.name for s in cfg.stages])
    record_owner(run_dir)
    try:
        start_ray(cfg.ray)
        record_owner(run_dir)  # now with the raylet, whose workers a rerun stops if this driver is killed
        _run_selected(cfg, manifest, selected, start, notify, progress)
    finally:
        release(run_dir)
    return manifest


def _run_selected(
    cfg: CascadeConfig, manifest: Manifest, selected: list[str], start: str | None, notify: Notify,
    progress: StageProgress | None,
) -> None:
    init: str | None = None
    for i, stage in enumerate(cfg.stages, 1):
        if stage.name not in selected:
            init = manifest.stage(stage.name).get("checkpoint", init)
            continue
        status = manifest.stage(stage.name).get("status")
        if status == "stale" or (start is not None and status != "pending"):
            reset_stage(cfg, manifest, stage.name)
        if manifest.is_done(stage.name):
            notify(f"[{i}/{len(cfg.stages)}] {stage.name}: done already, skipped")
            evaluate_stage(cfg, manifest, stage, manifest.stage(stage.name).get("init_checkpoint"), notify)
            init = manifest.stage(stage.name)["checkpoint"]
            continue
        notify(f"[{i}/{len(cfg.stages)}] {stage.name} ({stage.kind}) starting")
        init = run_one(cfg, manifest, stage, init, notify, progress)
    if cfg.eval_matrix:
        from cascade.eval_matrix import cascade_matrix

        cascade_matrix(cfg, manifest, notify)


def check_finished_stages(cfg: CascadeConfig, manifest: Manifest, rerun_from: str | None) -> None:
    """ConfigError naming the first finished stage whose config or starting checkpoint changed.

    Stages from ``rerun_from`` on are retrained anyway, so only the ones before it are checked.
    """
    from cascade.fingerprint import changed_keys, training_inputs
    from cascade.stage_eval import checkpoint_fingerprint

    init: str | None = None
    for stage in cfg.stages:
        if stage.name == rerun_from:
            return
        entry = manifest.stage(stage.name)
        if entry.get("status") != "done":
            return  # this one and the rest run anyway (stale or pending stages are retrained)
        how = f"rerun with `--from {stage.name}` to retrain it and every stage after it"
        if "inputs" in entry and entry["inputs"] != training_inputs(cfg, stage):
            keys = changed_keys(entry["inputs"], training_inputs(cfg, stage))
            raise ConfigError(f"stage {stage.name} was trained with another config (changed: {', '.join(keys)}); {how}")
        if "init_fingerprint" in entry and entry["init_fingerprint"] != checkpoint_fingerprint(cfg, init):
            raise ConfigError(f"stage {stage.name} was trained from another checkpoint than {init or 'the policy'} "
                              f"holds now (it was retrained since); {how}")
        init = entry["checkpoint"]


def mark_later_stale(cfg: CascadeConfig, manifest: Manifest, name: str) -> list[str]:
    """Retraining ``name`` invalidates every finished stage after it: they become ``stale``."""
    names = [s.name for s in cfg.stages]
    later = [n for n in names[names.index(name) + 1 :] if manifest.stage(n).get("status") == "done"]
    for n in later:
        manifest.update(n, "stale", stale_because=f"{name} was retrained")
    return later


def evaluate_stage(cfg: CascadeConfig, manifest: Manifest, stage: StageConfig, init: str | None, notify: Notify) -> None:
    """Score a finished stage's input and output on its eval (cached), into its manifest ``eval``."""
    from cascade.eval_matrix import all_plans, before_after, run_evals

    plans = all_plans(cfg)
    entry = manifest.stage(stage.name)
    if stage.name not in plans or entry.get("status") != "done":
        return
    before = run_evals(cfg, init, list(plans.values()))[stage.name]
    after = run_evals(cfg, entry["checkpoint"], list(plans.values()))[stage.name]  # the next stage's "before" too
    result = {"suite": stage.name, **before_after(before, after)}
    if entry.get("eval") == result:
        return  # a rerun over a finished stage: nothing new to record
    manifest.update(stage.name, "done", eval=result)
    notify(f"  eval {stage.name}: " + ", ".join(f"{m} {result['before'][m]:.3f} -> {v:.3f}" for m, v in result["after"].items()))


def _check_placeable(cfg: CascadeConfig, manifest: Manifest, stage: StageConfig) -> None:
    import ray

    from cascade.placement import check_placeable

    if not ray.is_initialized():
        return
    try:
        check_placeable(cfg, stage)
    except Exception as exc:
        manifest.update(stage.name, "failed", error=f"{type(exc).__name__}: {exc}"[:2000])
        raise


def run_one(
    cfg: CascadeConfig, manifest: Manifest, stage: StageConfig, init: str | None, notify: Notify = print,
    progress: StageProgress | None = None,
) -> str:
    """Run a stage under the manifest's bookkeeping (drawn live on ``progress``), then score it on its eval.

    Returns the stage's final checkpoint.
    """
    from cascade.eval_matrix import all_plans, run_evals
    from cascade.fingerprint import training_inputs
    from cascade.stage_eval import checkpoint_fingerprint

    _check_placeable(cfg, manifest, stage)  # a stage the cluster can never hold fails now, before any eval
    plans = all_plans(cfg)
    if stage.name in plans:  # the incoming policy on every eval, before anything trains (cached after stage 1)
        run_evals(cfg, init, list(plans.values()))
    stale = mark_later_stale(cfg, manifest, stage.name)
    if stale:
        notify(f"  {', '.join(stale)}: stale now (trained on {stage.name}'s old output); the next `cascade run` retrains them")
    started = time.time()
    manifest.update(stage.name, "running", kind=stage.kind, init_checkpoint=init, started_at=started,
                    inputs=training_inputs(cfg, stage), init_fingerprint=checkpoint_fingerprint(cfg, init))
    try:
        with watch_stage(progress, cfg, stage):
            summary = run_stage_remote(cfg, stage, init)
    except BaseException as exc:
        manifest.update(stage.name, "failed", error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    manifest.update(stage.name, "done", finished_at=time.time(), **summary)
    evaluate_stage(cfg, manifest, stage, init, notify)
    return summary["checkpoint"]


def reset_stage(cfg: CascadeConfig, manifest: Manifest, name: str) -> None:
    shutil.rmtree(Path(cfg.run_dir) / name, ignore_errors=True)
    manifest.update(name, "pending")
