"""GPU check: one GRPO step of a full-size ZAYA1-8B (random init, no hub download); prints JSON.

For a GPU machine (prepared on a CPU-only one; ``--tiny`` runs the same code path on CPU with
the CI-sized model, to check the script itself). What it runs, per layout:

* ``gpus_1``: one Ray Train worker on one GPU, the full model unsharded, gradient
  checkpointing; the model is built in bf16, so weights, gradients and AdamW's two moments are
  all bf16: 8.84B params x 8 bytes ~ 71 GB before activations (an H200 holds it, an 80 GB
  H100 barely; ``--optim adafactor`` lowers it);
* ``gpus_N`` (when the machine has N > 1 GPUs): N Ray Train workers, FSDP2 over
  ``ZayaDecoderLayer``, the same per-device batch.

Each runs ``--steps`` GRPO steps (TRL's own ``GRPOTrainer`` with HF ``generate``) and reports
the last step: ``step_time_s``, ``tokens_per_s`` (prompt + completion tokens of the global
batch / step time) and ``peak_memory_gib`` (max over ranks of ``torch.cuda.max_memory_allocated``).
The model is ``ZayaConfig()``'s defaults, which are ZAYA1-8B's shape (40 layers, hidden 2048,
16 experts of 2048, vocab 262272: 8.84B parameters). The tokenizer is a synthetic word-level one covering the whole
vocabulary, so any sampled id decodes. Keep the defaults to stay under ~8 minutes on one H100/H200.

    python benchmarks/gpu_check.py                 # 1 GPU, then all GPUs if there are several
    python benchmarks/gpu_check.py --tiny          # the same path on CPU with the tiny model
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def synthetic_tokenizer(vocab_size: int) -> Any:
    """A word-level tokenizer over ``t0 .. t{vocab_size-1}``: offline, and every id decodes."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {f"t{i}": i for i in range(vocab_size)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="t1"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="t0", bos_token="t2", eos_token="t106", unk_token="t1")


def build_model(tiny: bool, device: Any) -> tuple[Any, Any]:
    import torch
    from transformers import ZayaConfig, ZayaForCausalLM

    if tiny:
        from cascade.config import TinyPolicy

        config = ZayaConfig(**TinyPolicy().model_dump(), pad_token_id=0, bos_token_id=2, eos_token_id=106)
    else:
        config = ZayaConfig()  # ZAYA1-8B's shape
    torch.manual_seed(0)
    dtype = torch.float32 if tiny else torch.bfloat16
    with torch.device(device):
        previous = torch.get_default_dtype()
        torch.set_default_dtype(dtype)
        try:
            model = ZayaForCausalLM(config)
        finally:
            torch.set_default_dtype(previous)
    model.generation_config.pad_token_id, model.generation_config.eos_token_id = 0, 106
    return model, synthetic_tokenizer(config.vocab_size)


def check_worker(config: dict[str, Any]) -> None:
    """One Ray Train worker: build the model on its device, run GRPO steps, rank 0 writes the numbers."""
    import torch
    from datasets import IterableDataset
    from trl import GRPOConfig, GRPOTrainer

    from cascade.distributed import all_gather_list, local_device, rank, world_size

    tiny, world = config["tiny"], world_size()
    device = torch.device("cpu") if tiny else local_device()
    if device.type == "cuda":
        torch.cuda.set_device(device)
    started = time.monotonic()
    model, tok = build_model(tiny, device)
    build_s = time.monotonic() - started
    prompt = " ".join(f"t{200 + i}" for i in range(config["prompt_tokens"]))

    def prompts():
        while True:
            yield {"prompt": prompt}

    def reward(completions: list[str], **_: Any) -> list[float]:
        return [float(len(c) % 5) for c in completions]  # varies inside a group, so the loss is real

    sharded = world > 1 and not tiny
    args = GRPOConfig(
        output_dir=config["out"],
        per_device_train_batch_size=config["generations"],
        num_generations=config["generations"],
        max_completion_length=config["completion_tokens"],
        max_steps=config["steps"],
        learning_rate=1e-6,
        beta=0.0,
        bf16=not tiny,
        use_cpu=tiny,
        gradient_checkpointing=not sharded,  # FSDP2 checkpoints activations itself (fsdp_config)
        fsdp=True if sharded else None,
        fsdp_config={"version": 2, "activation_checkpointing": True, "transformer_layer_cls_to_wrap": ["ZayaDecoderLayer"]}
        if sharded
        else None,
        optim=config["optim"],
        report_to="none",
        logging_steps=1,
        save_strategy="no",
        shuffle_dataset=False,
        seed=0,
    )
    trainer = GRPOTrainer(model=model, reward_funcs=[reward], args=args, train_dataset=IterableDataset.from_generator(prompts), processing_class=tok)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    trainer.train()
    logs = [r for r in trainer.state.log_history if "step_time" in r]
    last = logs[-1]
    tokens = last["num_tokens"] - (logs[-2]["num_tokens"] if len(logs) > 1 else 0)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else 0.0
    peaks = all_gather_list([peak])
    if rank() == 0:
        result = {
            "workers": world,
            "sharding": "fsdp2" if sharded else "none",
            "build_model_s": round(build_s, 1),
            "step_time_s": round(last["step_time"], 2),
            "first_step_time_s": round(logs[0]["step_time"], 2),
            "tokens_per_step": int(tokens),
            "tokens_per_s": round(tokens / last["step_time"], 1),
            "completion_mean_length": last.get("completions/mean_length"),
            "peak_memory_gib": round(max(peaks), 2),
            "loss": last.get("loss"),
        }
        Path(config["out"], "result.json").write_text(json.dumps(result))


def run_layout(workers: int, opts: argparse.Namespace, root: Path) -> dict[str, Any]:
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    out = root / f"w{workers}"
    out.mkdir()
    config = {
        "tiny": opts.tiny, "out": str(out), "steps": opts.steps, "generations": opts.generations,
        "prompt_tokens": opts.prompt_tokens, "completion_tokens": opts.completion_tokens, "optim": opts.optim,
    }
    started = time.monotonic()
    TorchTrainer(
        check_worker,
        train_loop_config=config,
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=not opts.tiny, resources_per_worker={"CPU": 1}),
        run_config=RunConfig(name=f"gpu-check-{workers}", storage_path=str(out / "ray")),
    ).fit()
    return {**json.loads((out / "result.json").read_text()), "job_wall_s": round(time.monotonic() - started, 1)}


# ---- ROLLOUT ENGINE HOOK (issue #12) -------------------------------------------------------
# The rollout-engine engineer adds the vLLM check here: build the same random-init ZAYA1-8B,
# serve it with the `vllm` backend of cascade/generation/, generate one batch, and return its
# numbers (tokens/s, time to first weight sync). Until then the JSON says so explicitly.
def vllm_check(opts: argparse.Namespace, root: Path) -> dict[str, Any]:
    return {"status": "not wired yet: the vllm backend lands with the rollout engine (#12)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="CI-sized model on CPU (checks the script, not the GPU)")
    parser.add_argument("--steps", type=int, default=2, help="GRPO steps; the last one is reported")
    parser.add_argument("--generations", type=int, default=4, help="completions per prompt = per-device batch")
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--completion-tokens", type=int, default=256)
    parser.add_argument("--optim", default="adamw_torch_fused", help="a TrainingArguments optim (adafactor saves memory)")
    parser.add_argument("--workers", type=int, nargs="*", help="layouts to run (default: 1, and all GPUs if > 1)")
    opts = parser.parse_args()
    if opts.tiny:
        opts.optim = "adamw_torch"

    import ray
    import torch

    gpus = 0 if opts.tiny else torch.cuda.device_count()
    if not opts.tiny and gpus == 0:
        sys.exit("gpu_check: no CUDA device here (use --tiny to check the script on CPU)")
    layouts = opts.workers or ([1, gpus] if gpus > 1 else [1])
    ray.init(num_cpus=max(layouts) + 1, num_gpus=gpus, include_dashboard=False, log_to_driver=False, logging_level="error")
    result: dict[str, Any] = {
        "model": "tiny" if opts.tiny else "ZAYA1-8B shape (ZayaConfig defaults), random init, bf16",
        "device": "cpu" if opts.tiny else torch.cuda.get_device_name(0),
        "gpus": gpus,
        "generations": opts.generations,
        "prompt_tokens": opts.prompt_tokens,
        "max_completion_tokens": opts.completion_tokens,
    }
    with tempfile.TemporaryDirectory() as tmp:
        for workers in layouts:
            result[f"gpus_{workers}" if not opts.tiny else f"cpu_workers_{workers}"] = run_layout(workers, opts, Path(tmp))
        result["vllm"] = vllm_check(opts, Path(tmp))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
