"""GPU check of the ``vllm`` rollout backend, printed as JSON (prepared; needs a GPU and ``zaya-cascade[vllm]``).

For each model (``--models small`` = a random-init ZAYA of a few layers; ``8b`` = ``Zyphra/ZAYA1-8B`` or a
local path given with ``--path-8b``) it:
1. samples ``--prompts`` x ``--n`` completions through ``VLLMEngine`` (generation tokens/s);
2. runs the trainer's forward (HF ZayaForCausalLM, bf16) on prompt+completion, without and with router
   replay of vLLM's routes, and reports the routed-expert agreement at valid positions (with replay it
   must be 1.0; without, it is the train/inference mismatch);
3. reports the mean per-token KL(engine || trainer) estimated from the sampled tokens' log-probs
   (``mean(logp_engine - logp_trainer)``; the report measured 1.3e-4).
Not yet covered: a full GRPO step with ``generation: {backend: vllm}`` (weight sync through collective_rpc).
This is the contract test of the ``hf`` backend (tests/test_generation_engine.py) run against ``vllm``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _small_model(path: Path) -> str:
    from transformers import ZayaConfig, ZayaForCausalLM

    from cascade.tokenizer import build_tiny_tokenizer

    tok = build_tiny_tokenizer()
    cfg = ZayaConfig(vocab_size=len(tok), hidden_size=256, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                     head_dim=64, moe_intermediate_size=256, num_experts=8, router_hidden_size=64,
                     pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    ZayaForCausalLM(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


def check(model_path: str, prompts: int, n: int, max_new_tokens: int, tp: int) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from cascade.config import GenerationSettings
    from cascade.generation.engine import SamplingParams, chat_token_ids
    from cascade.generation.vllm import VLLMEngine
    from cascade.recipe.router_replay import RouterRecorder

    tok = AutoTokenizer.from_pretrained(model_path)
    settings = GenerationSettings(backend="vllm", tensor_parallel_size=tp, gpu_memory_utilization=0.45)
    trainer = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.bfloat16).cuda().eval()
    recorder = RouterRecorder(trainer)
    engine = VLLMEngine(model_path, settings, recorder.num_layers, dtype="bfloat16")
    ids = chat_token_ids(tok, [f"What is {i} plus {i + 3}? Think, then answer." for i in range(prompts)])
    started = time.perf_counter()
    completions = engine.generate(ids, n, SamplingParams(max_new_tokens=max_new_tokens))
    seconds = time.perf_counter() - started
    tokens = sum(len(c.token_ids) for c in completions)
    out = {"model": model_path, "completions": len(completions), "gen_tokens_per_s": round(tokens / seconds, 1),
           "returns_routes": engine.returns_routes}
    agree = {False: [0, 0], True: [0, 0]}
    kl = []
    for c in completions:
        seq = torch.tensor([c.prompt_ids + c.token_ids], device="cuda")
        for replay in (False, True):
            routes = torch.from_numpy(c.routes).long()[None].cuda() if c.routes is not None else None
            with torch.no_grad(), recorder.recording(), recorder.replaying(routes if replay else None):
                logits = trainer(seq).logits.float()
            if routes is not None:
                own = recorder.recorded()[0].long()
                valid = routes[..., 0, 0] >= 0
                used = torch.where(routes >= 0, routes, own) if replay else own
                agree[replay][0] += int((used[valid] == routes[valid]).all(-1).all(-1).sum())
                agree[replay][1] += int(valid.sum())
            if not replay:
                lp = torch.log_softmax(logits[0, len(c.prompt_ids) - 1 : -1], -1)
                lp = lp.gather(-1, torch.tensor(c.token_ids, device="cuda")[:, None]).squeeze(-1)
                kl += (torch.tensor(c.logprobs, device="cuda") - lp).tolist()
    for replay, (hit, total) in agree.items():
        out["route_agreement_" + ("with_replay" if replay else "without_replay")] = round(hit / total, 5) if total else None
    out["engine_trainer_kl"] = float(sum(kl) / len(kl)) if kl else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="+", default=["small"], choices=["small", "8b"])
    parser.add_argument("--path-8b", default="Zyphra/ZAYA1-8B")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--tp", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("gpu_check_vllm.json"))
    a = parser.parse_args()
    import tempfile

    results = {}
    for name in a.models:
        path = _small_model(Path(tempfile.mkdtemp()) / "zaya-small") if name == "small" else a.path_8b
        try:
            results[name] = check(path, a.prompts, a.n, a.max_new_tokens, a.tp)
        except Exception as exc:  # noqa: BLE001 - report every model, failures included
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    text = json.dumps({"benchmark": "gpu_check_vllm", "results": results}, indent=1)
    a.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
