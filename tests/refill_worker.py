"""One rank of the two-process dynamic-sampling test (run by test_recipe_refill_distributed.py).

Reads RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT from the environment (accelerate picks them
up: CPU + gloo), scores a hand-made batch whose zero-spread groups are known, and writes what it
saw as JSON to argv[1].
"""

from __future__ import annotations

import json
import os
import sys

import torch
from datasets import Dataset

from cascade.policy import build_tiny_policy
from cascade.recipe import CascadeGRPOConfig, CascadeGRPOTrainer

G = 4


def reward(completions, task, **_):
    """Even task ids: every rollout 1 (zero spread); odd: 1, 0, 1, 0 inside each local group."""
    return [1.0 if json.loads(t)["i"] % 2 == 0 else float(k % 2 == 0) for k, t in enumerate(task)]


def rows(task_ids: list[int]) -> list[dict]:
    return [{"prompt": [{"role": "user", "content": f"task {i}"}], "task": json.dumps({"i": i})} for i in task_ids]


def dataset(parity: int) -> Dataset:
    return Dataset.from_list(rows([2 * j + parity for j in range(1, 40)]))


def main(out_path: str) -> None:
    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    torch.manual_seed(0)
    model, tok = build_tiny_policy()
    args = CascadeGRPOConfig(
        output_dir=os.path.dirname(out_path), use_cpu=True, report_to="none", max_steps=1, num_generations=G,
        per_device_train_batch_size=2 * G, max_completion_length=4, seed=0, dynamic_sampling=True,
        dynamic_sampling_max_refills=1, loss_type="dr_grpo", beta=0.0, advantage_estimator="maxrl",
    )
    trainer = CascadeGRPOTrainer(model=model, reward_funcs=[reward], args=args, train_dataset=dataset(1), processing_class=tok)
    trainer.model.train()
    # global groups: rank 0 = [task 0 (zero spread), task 1], rank 1 = [task 2, task 4] (both zero spread)
    local = [[0, 1], [2, 4]][rank]
    report: dict = {"rank": rank, "world": trainer.accelerator.num_processes}
    for name, parity, refills in [("filled", 1, 1), ("unfilled", 0, 2)]:
        trainer.train_dataset, trainer._refill_iter = dataset(parity), None
        trainer.args.dynamic_sampling_max_refills = refills
        trainer._metrics["train"].clear()
        out = trainer._generate_and_score_completions(rows([i for i in local for _ in range(G)]))
        loss_mask = out["completion_mask"] * out.get("tool_mask", torch.ones_like(out["completion_mask"]))
        report[name] = {
            "metrics": {k: v for k, v in trainer._metrics["train"].items() if k.startswith("dynamic_sampling/")},
            "prompts": [tok.decode(p[m.bool()]) for p, m in zip(out["prompt_ids"], out["prompt_mask"])],
            "advantages": out["advantages"].tolist(),
            "loss_rows": loss_mask.sum(dim=1).gt(0).tolist(),
            "local_items": int(loss_mask.sum()),
            "num_items_in_batch": int(out["num_items_in_batch"]),
            "rows": out["completion_ids"].size(0),
        }
    with open(out_path, "w") as f:
        json.dump(report, f)
    # gloo's threads outlive an undestroyed process group and abort the interpreter at exit
    # ("terminate called without an active exception", rc -6) on some runs
    trainer.accelerator.wait_for_everyone()
    trainer.accelerator.end_training()


if __name__ == "__main__":
    main(sys.argv[1])
