"""Does the pipeline learn? SFT bootstrap then GRPO on the tiny ZAYA, held-out accuracy before/after; prints JSON.

Both stages go through the project's own path (``CascadeConfig`` + ``cascade.runner.run_stage``:
TRL's SFTTrainer, then ``CascadeGRPOTrainer`` over a ``TaskStream`` scored by the real verifier),
so a gain here is a gain of the pipeline, not of a benchmark-only loop.

``accuracy_before`` is measured after SFT and before RL (the SFT is kept short on purpose, so it
teaches the answer format and part of the skill and leaves RL something to improve);
``accuracy_untrained`` is the freshly built policy. Accuracy is greedy pass@1 on the distinct
problems of the environment's ``test`` split, which the training streams (``train`` split) never
draw, judged by the task's own verifier through ``cascade.evaluate``; ``eval.seen_in_training``
checks that no evaluated prompt was trained on. ``train_split`` reports the same accuracy on
problems of the training split (mostly seen in training), for contrast.
Wall time is noisy: the machine's cores may be shared with other work.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from cascade.config import CascadeConfig, apply_overrides, check_semantics
from cascade.evaluate import evaluate_tasks, load_tasks
from cascade.policy import load_policy
from cascade.runner import run_stage, stage_dir
from cascade.task_stream import TaskStream, as_chat, expand_env_specs
from cascade.rsa import GenerateFn
from envs import Task
from verifiers.pool import LocalVerifierPool

HELDOUT_SEED_BASE = 10**12  # training streams draw seeds below 2**31, so these never occur in training
# Operands 0-19: 400 problems, 30% held out. With 0-9 (100 problems) the tiny model memorised the 70
# training sums and RL moved unseen ones only +7 points; here SFT and RL learn a rule that transfers.
ENV = {"id": "arith/add", "difficulty": 0, "options": {"max_value": 19, "split": "train", "test_fraction": 0.3}}

# Tuned on a 2-core CPU (see benchmarks/README.md); override any of it with --set key.path=value.
# SFT: constant LR, because with TRL's linear decay the tiny model stalls on "always answer 10"
# before it learns to attend to the operands. RL: the stage-1 recipe as shipped (MaxRL, DPPO,
# router replay) at LR 3e-4 (1e-3 lets the first noisy Adam steps undo the SFT), sampling at
# temperature 0.5 (at 1.0 the tiny model's samples are mostly noise: +11..17 points on unseen
# problems instead of +27); no length bonus, so the reward is exactly the verifier's; no dynamic
# sampling: its refills cost whole extra generations, and without them it changes nothing here.
BASE: dict[str, Any] = {
    "seed": 0,
    "policy": {"name_or_path": "tiny"},
    "stages": [
        {
            "name": "sft",
            "kind": "sft",
            "num_tasks": 2048,
            "envs": [ENV],
            "trainer": {
                "max_steps": 600,
                "learning_rate": 3e-3,
                "lr_scheduler_type": "constant",
                "per_device_train_batch_size": 16,
            },
        },
        {
            "name": "rl",
            "kind": "reasoning_warmup",
            "envs": [ENV],
            "trainer": {
                "max_steps": 800,
                "learning_rate": 3e-4,
                "per_device_train_batch_size": 32,
                "num_generations": 8,
                "max_completion_length": 8,
                "temperature": 0.5,
                "length_bonus_c": 0.0,
                # no refills: under dr_grpo and beta 0, masking zero-spread groups would change no gradient
                "dynamic_sampling": False,
                "allow_inactive": ["dppo"],  # one iteration per rollout: DPPO's mask has nothing to act on
            },
        },
    ],
}


def build_config(run_dir: str, overrides: list[str]) -> CascadeConfig:
    """The benchmark's two-stage cascade, validated like any YAML config."""
    data = apply_overrides({**BASE, "run_dir": run_dir}, overrides)
    cfg = CascadeConfig.model_validate(data)
    check_semantics(cfg, "benchmarks/learning.py")
    return cfg


def heldout_tasks(n: int, env: dict[str, Any]) -> list[Task]:
    """Up to ``n`` distinct tasks from seeds no training stream draws (a small space may hold fewer)."""
    return load_tasks(env["id"], n, env.get("options"), HELDOUT_SEED_BASE, env.get("difficulty", 0))


def greedy_generate_fn(model: Any, tokenizer: Any, batch_size: int = 128) -> GenerateFn:
    """Greedy decoding (so accuracy is a property of the policy, not of a sampling seed), left padded."""

    @torch.no_grad()
    def generate(prompts: list[Any], max_new_tokens: int) -> list[str]:
        model.eval()
        out: list[str] = []
        for start in range(0, len(prompts), batch_size):
            chats = [as_chat(p) for p in prompts[start : start + batch_size]]
            texts = [tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in chats]
            enc = tokenizer(texts, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False)
            ids = model.generate(**enc.to(model.device), do_sample=False, max_new_tokens=max_new_tokens,
                                 pad_token_id=tokenizer.pad_token_id)
            out += tokenizer.batch_decode(ids[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        return out

    return generate


def checkpoint_accuracy(cfg: CascadeConfig, checkpoint: str | None, tasks: list[Task]) -> float:
    """Greedy pass@1 of a checkpoint (``None``: the freshly built policy), judged by each task's verifier."""
    model, tokenizer = load_policy(cfg.policy, checkpoint, seed=cfg.seed)
    result = evaluate_tasks(tasks, greedy_generate_fn(model, tokenizer), LocalVerifierPool(), n=1, k=1, max_new_tokens=8)
    return result["pass@1"]


def seen_in_training(cfg: CascadeConfig, tasks: list[Task]) -> float:
    """Share of eval prompts some training stream also drew (seeds differ, but a small space repeats problems)."""
    seen: set[str] = set()
    for stage in cfg.stages:
        state = json.loads((stage_dir(cfg, stage) / "task_stream.json").read_text())
        stream = TaskStream(expand_env_specs(stage.envs or []), seed=cfg.seed)
        seen.update(stream.next_task().prompt_text() for _ in range(state["drawn"]))
    return sum(t.prompt_text() in seen for t in tasks) / len(tasks)


def rl_signal(metrics_file: str) -> dict[str, float]:
    """Training reward (sampled, T=1) early vs late and the share of zero-spread groups, from the stage's log."""
    rows = [json.loads(line) for line in Path(metrics_file).read_text().splitlines()]
    rows = [r for r in rows if "reward" in r]
    quarter = max(len(rows) // 4, 1)

    def mean(part: list[dict[str, Any]], key: str) -> float:
        return round(sum(r.get(key, 0.0) for r in part) / max(len(part), 1), 4)

    return {
        "reward_first_quarter": mean(rows[:quarter], "reward"),
        "reward_last_quarter": mean(rows[-quarter:], "reward"),
        "frac_reward_zero_std": mean(rows, "frac_reward_zero_std"),
    }


def run(cfg: CascadeConfig, n_eval: int) -> dict[str, Any]:
    """Raw -> SFT -> RL, measuring held-out accuracy at each checkpoint; wall time covers all of it."""
    started = time.monotonic()
    rl_env = cfg.stage("rl").envs[0].model_dump()
    tasks = heldout_tasks(n_eval, {**rl_env, "options": {**rl_env["options"], "split": "test"}})
    train_tasks = heldout_tasks(n_eval, rl_env)  # the split training draws from: mostly seen problems
    untrained = checkpoint_accuracy(cfg, None, tasks)
    sft = run_stage(cfg, "sft", None)
    before = checkpoint_accuracy(cfg, sft["checkpoint"], tasks)
    train_before = checkpoint_accuracy(cfg, sft["checkpoint"], train_tasks)
    rl = run_stage(cfg, "rl", sft["checkpoint"])
    after = checkpoint_accuracy(cfg, rl["checkpoint"], tasks)
    train_after = checkpoint_accuracy(cfg, rl["checkpoint"], train_tasks)
    return {
        "accuracy_untrained": untrained,
        "accuracy_before": before,  # after SFT, before RL
        "accuracy_after_sft": before,
        "accuracy_after": after,  # after RL
        "gain": round(after - before, 4),
        "wall_s": round(time.monotonic() - started, 1),
        "sft": {"steps": sft["steps"], "wall_s": sft["wall_s"], "loss_start": sft["start"], "loss_end": sft["end"]},
        "rl": {"steps": rl["steps"], "wall_s": rl["wall_s"], **rl_signal(rl["metrics_file"])},
        "eval": {
            "tasks": len(tasks),  # distinct problems of the test split (about 120 for operands 0-19)
            "seen_in_training": seen_in_training(cfg, tasks),
            "env": rl_env,
            "decoding": "greedy",
            "heldout_seed_base": HELDOUT_SEED_BASE,
        },
        "train_split": {  # same metric on the training split's problems, for contrast (memorisation shows here)
            "accuracy_before": train_before,
            "accuracy_after": train_after,
            "tasks": len(train_tasks),
            "seen_in_training": seen_in_training(cfg, train_tasks),
        },
        "settings": {s.name: {"kind": s.kind, "trainer": s.trainer} for s in cfg.stages},
        "torch_threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-tasks", type=int, default=400, help="held-out seeds; distinct problems are kept")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="key.path=value, as in the CLI")
    parser.add_argument("--run-dir", default=None, help="keep the run here (default: a temporary directory)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: tiny matmuls gain nothing from more)")
    opts = parser.parse_args()
    torch.set_num_threads(opts.threads)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = build_config(opts.run_dir or str(Path(tmp) / "run"), opts.overrides)
        with contextlib.redirect_stdout(sys.stderr):  # trainers print their logs; stdout stays pure JSON
            result = run(cfg, opts.eval_tasks)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
