"""Asynchronous vs synchronous rollouts on the same tiny GRPO stage, printed as JSON.

Both runs use one ``hf`` engine actor (1 CPU) beside the trainer (1 torch thread) on a Ray cluster
of ``--cpus`` CPUs, the same prompts, steps and batch. Every completion is judged by a slow verifier:
a program run in the code sandbox (bubblewrap) with the completion as its stdin. ``sync`` is
``max_staleness: 0`` (generate, verify, train, in turn); ``async`` is ``max_staleness: 2`` with
``verify_in_pipeline``: the engine samples future steps and the verifier scores them while the
trainer trains. Samples/s = completions trained on / training wall time. Target: async >= 1.3x.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

from verifiers import Verdict, Verifier, get_verifier  # noqa: E402

PROGRAM = "```python\nimport sys\nprint(len(sys.stdin.read()) % 3)\n```"


class SandboxedLength(Verifier):
    """Runs a program in the code sandbox on the completion: correct iff its length % 3 hits the target."""

    def verify(self, completion: str, payload: dict) -> Verdict:
        return get_verifier("code").verify(PROGRAM, {"inputs": [completion], "outputs": [str(payload["want"])]})


def run(max_staleness: int, steps: int, completion_len: int, workdir: str) -> dict:
    import torch
    from datasets import IterableDataset

    from cascade.config import GenerationSettings
    from cascade.generation.rollout import PLACEHOLDER_ROW, EngineGRPOTrainer
    from cascade.generation.setup import build_rollout
    from cascade.policy import build_tiny_policy
    from cascade.recipe import CascadeGRPOConfig
    from cascade.rewards import TaskReward
    from envs import Task
    from verifiers.pool import LocalVerifierPool

    torch.manual_seed(0)
    model, tok = build_tiny_policy()
    counter = iter(range(10**9))

    class Stream:
        def next_task(self) -> Task:
            i = next(counter)
            return Task(prompt=f"what is {i % 7} plus {i % 5}", verifier="sandboxed_length", payload={"want": i % 3}, env_id="b")

        def rows(self):
            while True:
                t = self.next_task()
                yield {"prompt": [{"role": "user", "content": t.prompt}], "task": t.to_json()}

    stream = Stream()
    pool = LocalVerifierPool(extra={"sandboxed_length": SandboxedLength})
    args = CascadeGRPOConfig(
        output_dir=workdir, max_steps=steps, num_generations=4, per_device_train_batch_size=8,
        max_completion_length=completion_len, report_to="none", use_cpu=True, bf16=False, logging_steps=1,
        save_strategy="no", seed=0, learning_rate=1e-3, beta=0.0,
    )
    settings = GenerationSettings(backend="hf", num_cpus=1, max_staleness=max_staleness,
                                  **({"verify_in_pipeline": True} if max_staleness else {}))
    reward = TaskReward(pool, args.num_generations, None)
    rollout, callbacks, funcs = build_rollout(settings, model, tok, stream, args.num_generations, True, [reward], pool)
    data = IterableDataset.from_generator(stream.rows if max_staleness == 0 else lambda: iter(lambda: dict(PLACEHOLDER_ROW), None))
    trainer = EngineGRPOTrainer(model=model, reward_funcs=funcs, args=args, train_dataset=data, processing_class=tok,
                                callbacks=callbacks, rollout_func=rollout)
    from transformers.trainer_callback import ProgressCallback

    trainer.remove_callback(ProgressCallback)  # stdout carries only the JSON
    trainer.train()
    logs = [h for h in trainer.state.log_history if "loss" in h]
    mean = lambda key: round(sum(h.get(key, 0.0) for h in logs) / len(logs), 3)  # noqa: E731
    samples = steps * args.per_device_train_batch_size
    return {
        "max_staleness": max_staleness, "samples": samples, "wall_s": round(trainer.train_seconds, 2),
        "samples_per_s": round(samples / trainer.train_seconds, 3),
        "staleness_mean": mean("generation/staleness_mean"), "generation_busy": mean("generation/busy_frac"),
        "trainer_busy": mean("generation/trainer_busy_frac"), "dropped_stale": logs[-1].get("generation/dropped_stale"),
        "reward": mean("reward"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--completion-len", type=int, default=16)
    parser.add_argument("--cpus", type=int, default=2)
    a = parser.parse_args()
    import ray
    import torch

    torch.set_num_threads(1)
    ray.init(num_cpus=a.cpus, include_dashboard=False, log_to_driver=False, logging_level="error")
    started = time.time()
    with TemporaryDirectory() as tmp:
        sync = run(0, a.steps, a.completion_len, tmp + "/sync")
        async_ = run(2, a.steps, a.completion_len, tmp + "/async")
    print(json.dumps({
        "benchmark": "async_rollout", "cpus": a.cpus, "steps": a.steps, "completion_len": a.completion_len,
        "sync": sync, "async": async_, "ratio": round(async_["samples_per_s"] / sync["samples_per_s"], 3),
        "target": 1.3, "load_avg_1m": round(os.getloadavg()[0], 2), "total_s": round(time.time() - started, 1),
    }, indent=1))


if __name__ == "__main__":
    main()
