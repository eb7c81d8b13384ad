"""The ``vllm`` backend (optional extra ``zaya-cascade[vllm]``; imported only when a stage asks for it).

NOT RUN in CI or on the development machine (no vLLM wheel, no GPU there): written against vLLM's
public API as read from its source — ``LLM(..., enable_return_routed_experts=True,
logprobs_mode="processed_logprobs")``, ``CompletionOutput.routed_experts`` (``(seq, layers, top_k)``),
per-token sampled log-probs from ``SamplingParams(logprobs=0)``, weights loaded in place through
``collective_rpc`` into the worker's ``model.load_weights``. ``benchmarks/gpu_check_vllm.py``
exercises it on a GPU.

Routes: when vLLM returns no routed experts, or ones whose layer count differs from the policy's
routers (e.g. a ZAYA port whose skip class bypasses the captured top-k), ``returns_routes`` is
False, and ``build_rollout`` refuses to start a stage with router replay on.
"""

from __future__ import annotations

import tempfile
from typing import Any

import numpy as np

from cascade.generation.engine import Completion, SamplingParams


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise ImportError("generation.backend 'vllm' needs the vllm extra: pip install 'zaya-cascade[vllm]'") from exc
    return vllm


def _load_weights(worker: Any, items: list[tuple[str, Any]]) -> None:  # runs inside each vLLM worker
    worker.model_runner.model.load_weights(weights=items)


class VLLMEngine:
    """One vLLM ``LLM`` (tensor-parallel over ``tensor_parallel_size`` GPUs) behind the engine contract."""

    def __init__(self, model_path: str, settings: Any, num_router_layers: int, dtype: str = "auto") -> None:
        vllm = _import_vllm()
        self._vllm = vllm
        self.llm = vllm.LLM(
            model=model_path, tensor_parallel_size=settings.tensor_parallel_size, dtype=dtype,
            gpu_memory_utilization=settings.gpu_memory_utilization, enable_return_routed_experts=True,
            logprobs_mode="processed_logprobs", enable_prefix_caching=False, skip_tokenizer_init=True,
        )
        self.num_router_layers = num_router_layers
        self._version = 0
        self._routes_seen: bool | None = None

    @classmethod
    def from_model(cls, model: Any, tokenizer: Any, settings: Any) -> "VLLMEngine":
        """vLLM loads from a directory: write the policy there first (LoRA merged by save_policy)."""
        from cascade.policy import save_policy

        path = tempfile.mkdtemp(prefix="cascade-vllm-")
        save_policy(model, tokenizer, path)
        layers = getattr(model.config, "num_hidden_layers", 0)
        return cls(path, settings, layers)

    @property
    def version(self) -> int:
        return self._version

    @property
    def returns_routes(self) -> bool:
        if self._routes_seen is None:  # probe once: a one-token generation must come back with routes
            self.generate([[0]], 1, SamplingParams(max_new_tokens=1))
        return bool(self._routes_seen)

    def update_weights(self, weights: dict[str, Any], version: int) -> None:
        self.llm.collective_rpc(_load_weights, args=(list(weights.items()),))
        self.llm.reset_prefix_cache()
        self._version = int(version)

    def generate(self, prompts_token_ids: list[list[int]], n: int, sampling: SamplingParams) -> list[Completion]:
        params = self._vllm.SamplingParams(
            n=n, max_tokens=sampling.max_new_tokens, temperature=sampling.temperature, top_p=sampling.top_p,
            top_k=sampling.top_k if sampling.top_k > 0 else -1, min_p=sampling.min_p or 0.0,
            repetition_penalty=sampling.repetition_penalty, logprobs=0,
            stop_token_ids=list(sampling.stop_token_ids) or None, detokenize=False,
        )
        outputs = self.llm.generate([{"prompt_token_ids": p} for p in prompts_token_ids], params, use_tqdm=False)
        out = []
        for prompt, request in zip(prompts_token_ids, outputs):
            for c in request.outputs:
                tokens = list(c.token_ids)
                logps = [float(lp[t].logprob) for lp, t in zip(c.logprobs or [], tokens)]
                out.append(Completion(list(prompt), tokens, logps, "stop" if c.finish_reason == "stop" else "length",
                                      self._version, self._routes(c, len(prompt) + len(tokens))))
        return out

    def _routes(self, c: Any, length: int) -> np.ndarray | None:
        routed = getattr(c, "routed_experts", None)
        ok = routed is not None and np.asarray(routed).ndim == 3 and np.asarray(routed).shape[1] == self.num_router_layers
        self._routes_seen = ok if self._routes_seen is None else (self._routes_seen and ok)
        if not ok:
            return None
        r = np.asarray(routed).astype(np.int16)[:length]
        if r.shape[0] < length:  # the last sampled token is never fed back: no record, as on hf
            r = np.concatenate([r, np.full((length - r.shape[0], *r.shape[1:]), -1, dtype=np.int16)])
        return r


class VLLMEngineActor(VLLMEngine):
    """The Ray actor form: writes the trainer's config + weights to a local directory, then starts vLLM."""

    def __init__(self, model_config: Any, weights: dict[str, Any], version: int, settings: Any) -> None:
        import time

        import torch
        from transformers import AutoModelForCausalLM

        path = tempfile.mkdtemp(prefix="cascade-vllm-")
        model = AutoModelForCausalLM.from_config(model_config)
        model.load_state_dict(weights, strict=True)
        model.save_pretrained(path)
        del model
        torch.cuda.empty_cache() if torch.cuda.is_available() else None
        super().__init__(path, settings, getattr(model_config, "num_hidden_layers", 0))
        self._version = int(version)
        self._time = time

    def generate_timed(self, prompts_token_ids: list[list[int]], n: int, sampling: SamplingParams) -> tuple[list[Completion], float]:
        started = self._time.perf_counter()
        completions = self.generate(prompts_token_ids, n, sampling)
        return completions, self._time.perf_counter() - started

    def generate_with_rng(self, prompts_token_ids: list[list[int]], n: int, sampling: SamplingParams, rng_state: Any) -> tuple[list[Completion], Any]:
        """vLLM samples on its own GPU RNG: no hand-over; the trainer's CPU state comes back unchanged."""
        return self.generate(prompts_token_ids, n, sampling), rng_state

    def ready(self) -> int:
        return self._version

    def info(self) -> dict[str, Any]:
        return {"version": self._version, "returns_routes": self.returns_routes, "calls": 0}
