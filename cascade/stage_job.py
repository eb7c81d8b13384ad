"""A stage as a Ray Train job: ``num_workers`` TorchTrainer workers each running ``runner.run_stage``.

Ray Train starts the workers in one placement group, sets ``RANK`` / ``WORLD_SIZE`` /
``LOCAL_RANK`` / ``MASTER_ADDR`` and ``ACCELERATE_TORCH_DEVICE``, and initialises the torch
process group (gloo for CPU workers, NCCL for GPU workers) before ``train_worker`` runs;
accelerate, inside TRL's trainer, adopts that process group. ``num_workers: 1`` runs as a
plain Ray task instead (``run_stage_task``; why: ``driver.run_stage_remote``).

The summary the driver records comes from rank 0 (``run_dir/<stage>/summary.json``), which
is why ``run_dir`` must be storage every node reads and writes (a shared filesystem).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cascade.config import CascadeConfig, StageConfig
from cascade.placement import check_placeable, worker_bundle


def train_worker(config: dict[str, Any]) -> None:
    """Per-worker entry point (Ray Train's ``train_loop_per_worker``): run this worker's share."""
    import torch

    from cascade.distributed import local_device
    from cascade.runner import run_stage

    device = local_device()
    if device.type == "cuda":
        torch.cuda.set_device(device)  # NCCL collectives before accelerate's own setup use this device
    run_stage(CascadeConfig.model_validate(config["cfg"]), config["stage"], config["init"])


def _stage_task(cfg_data: dict[str, Any], stage_name: str, init: str | None) -> dict[str, Any]:
    from cascade.runner import run_stage

    return run_stage(CascadeConfig.model_validate(cfg_data), stage_name, init)


def run_stage_task(cfg: CascadeConfig, stage: StageConfig, init: str | None) -> dict[str, Any]:
    """One worker as a plain Ray task (no process group, no Train controller)."""
    import ray

    check_placeable(cfg, stage)
    res = stage.resources
    remote = ray.remote(_stage_task).options(
        num_cpus=res.worker_cpus, num_gpus=res.worker_gpus, max_retries=0, name=f"stage:{stage.name}"
    )
    return ray.get(remote.remote(cfg.model_dump(), stage.name, init))


def scaling_config(stage: StageConfig) -> Any:
    """The stage's ``resources`` as a Ray Train ``ScalingConfig`` (one bundle per worker)."""
    from ray.train import ScalingConfig

    res = stage.resources
    return ScalingConfig(
        num_workers=res.num_workers,
        use_gpu=res.gpu,
        resources_per_worker=worker_bundle(stage),
        placement_strategy="PACK",
    )


def run_stage_job(cfg: CascadeConfig, stage: StageConfig, init: str | None) -> dict[str, Any]:
    """Run one stage as a TorchTrainer job and return rank 0's summary; raise if it cannot be placed."""
    from ray.train import FailureConfig, RunConfig
    from ray.train.torch import TorchTrainer

    from cascade.runner import SUMMARY_FILE, stage_dir

    check_placeable(cfg, stage)
    path = stage_dir(cfg, stage)
    path.mkdir(parents=True, exist_ok=True)
    (path / SUMMARY_FILE).unlink(missing_ok=True)
    trainer = TorchTrainer(
        train_worker,
        train_loop_config={"cfg": cfg.model_dump(), "stage": stage.name, "init": init},
        scaling_config=scaling_config(stage),
        run_config=RunConfig(
            name=f"stage-{stage.name}",
            storage_path=str(path / "ray_train"),
            failure_config=FailureConfig(max_failures=0),  # a failed stage is the manifest's to record
        ),
    )
    trainer.fit()
    return json.loads((Path(path) / SUMMARY_FILE).read_text())
