"""The ``hf`` backend: transformers ``generate`` in this process or in a Ray actor, CPU or GPU.

Sampling log-probs come from generate's processed scores (the logits after the same temperature /
top-k / top-p warpers that drew each token), so they are the behaviour policy's log-probs; with
``top_p=1`` and ``top_k=0`` they equal the trainer's recomputation up to float noise. ZAYA routes
come from ``RouterRecorder`` hooks during the same generate call.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from transformers import GenerationConfig

from cascade.generation.engine import Completion, SamplingParams
from cascade.recipe.router_replay import RouterRecorder, find_routers


class HFEngine:
    """A policy copy that samples and reports what the contract asks (see ``engine.py``)."""

    def __init__(self, model: Any, pad_token_id: int, eos_token_ids: list[int] | int, max_batch: int | None = None) -> None:
        self.model = model
        self.pad_token_id = int(pad_token_id)
        self.eos_token_ids = [int(e) for e in (eos_token_ids if isinstance(eos_token_ids, (list, tuple)) else [eos_token_ids])]
        self.max_batch = max_batch
        self._version = 0
        self._recorder = RouterRecorder(model) if find_routers(model) else None
        self.calls = 0

    @property
    def version(self) -> int:
        return self._version

    @property
    def returns_routes(self) -> bool:
        return self._recorder is not None

    def update_weights(self, weights: dict[str, torch.Tensor], version: int) -> None:
        """Load a full (LoRA-merged) state dict; every key must match, so a wrong model fails loudly."""
        self.model.load_state_dict(weights, strict=True)
        self._version = int(version)

    def generate(self, prompts_token_ids: list[list[int]], n: int, sampling: SamplingParams) -> list[Completion]:
        rows = [list(p) for p in prompts_token_ids for _ in range(n)]
        step = self.max_batch or max(1, len(rows))
        out: list[Completion] = []
        for s in range(0, len(rows), step):
            out += self._generate_rows(rows[s : s + step], sampling)
        return out

    def generate_with_rng(self, prompts_token_ids: list[list[int]], n: int, sampling: SamplingParams,
                          rng_state: torch.Tensor) -> tuple[list[Completion], torch.Tensor]:
        """``generate`` drawing from a given CPU RNG state, returning the state after: at max_staleness 0
        the trainer hands its own RNG stream over, so engine sampling equals in-trainer sampling bit for bit."""
        torch.set_rng_state(rng_state)
        completions = self.generate(prompts_token_ids, n, sampling)
        return completions, torch.get_rng_state()

    def _config(self, sampling: SamplingParams, bos: int | None) -> GenerationConfig:
        greedy = sampling.temperature == 0  # evaluation's deterministic decoding; rollouts always sample
        knobs = {"temperature": None, "top_p": None, "top_k": None} if greedy else {
            "temperature": sampling.temperature, "top_p": sampling.top_p, "top_k": sampling.top_k}
        return GenerationConfig(
            max_new_tokens=sampling.max_new_tokens, do_sample=not greedy, pad_token_id=self.pad_token_id, bos_token_id=bos,
            eos_token_id=list(sampling.stop_token_ids) or self.eos_token_ids, **knobs,
            min_p=sampling.min_p, repetition_penalty=sampling.repetition_penalty, **sampling.extra, disable_compile=True,
            return_dict_in_generate=True, output_scores=True,
        )

    @torch.no_grad()
    def _generate_rows(self, rows: list[list[int]], sampling: SamplingParams) -> list[Completion]:
        device = next(self.model.parameters()).device
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):  # left padding: every prompt ends next to its completion
            ids[i, width - len(r) :] = torch.tensor(r)
            mask[i, width - len(r) :] = 1
        config = self._config(sampling, getattr(self.model.config, "bos_token_id", None))
        was_training = self.model.training
        self.model.eval()
        try:
            if self._recorder is not None:
                with self._recorder.recording():
                    gen = self._run(ids.to(device), mask.to(device), config)
                recorded = self._recorder.recorded()
            else:
                gen, recorded = self._run(ids.to(device), mask.to(device), config), None
        finally:
            self.model.train(was_training)
        self.calls += 1
        return self._completions(rows, width, gen, recorded, list(sampling.stop_token_ids) or self.eos_token_ids)

    def _run(self, ids: torch.Tensor, mask: torch.Tensor, config: GenerationConfig) -> Any:
        return self.model.generate(input_ids=ids, attention_mask=mask, generation_config=config)

    def _completions(self, rows: list[list[int]], width: int, gen: Any, recorded: Any, eos: list[int]) -> list[Completion]:
        seqs = gen.sequences[:, width:].cpu()
        scores = torch.stack(gen.scores, dim=1).float().cpu()  # (B, T, V) processed logits
        logps = torch.log_softmax(scores, dim=-1).gather(-1, seqs.unsqueeze(-1)).squeeze(-1)
        is_eos = torch.isin(seqs, torch.tensor(eos))
        out = []
        for i, prompt in enumerate(rows):
            hits = is_eos[i].nonzero()
            length = int(hits[0]) + 1 if len(hits) else seqs.size(1)  # keep the first EOS, as TRL does
            routes = entropy = None
            if recorded is not None:
                routes, entropy = _row_routes(recorded, i, width - len(prompt), len(prompt) + length)
            out.append(Completion(
                prompt_ids=list(prompt), token_ids=seqs[i, :length].tolist(), logprobs=logps[i, :length].tolist(),
                finish_reason="stop" if len(hits) else "length", weight_version=self._version, routes=routes,
                router_entropy=entropy,
            ))
        return out


def _row_routes(recorded: tuple[torch.Tensor, torch.Tensor], row: int, pad: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """One row's routes over its own prompt+completion positions; -1 where generation recorded none."""
    routes, entropy = recorded
    r = routes[row, pad : pad + length].cpu().numpy().astype(np.int16)
    h = entropy[row, pad : pad + length].float().cpu().numpy()
    if r.shape[0] < length:
        missing = length - r.shape[0]
        r = np.concatenate([r, np.full((missing, *r.shape[1:]), -1, dtype=np.int16)])
        h = np.concatenate([h, np.zeros((missing, *h.shape[1:]), dtype=np.float32)])
    return r, h


class HFEngineActor(HFEngine):
    """The Ray actor form: built from a model config and a weights object, one torch thread per CPU."""

    def __init__(self, model_config: Any, weights: dict[str, torch.Tensor], version: int, pad_token_id: int,
                 eos_token_ids: list[int], num_threads: int = 1, device: str = "cpu", max_batch: int | None = None) -> None:
        from transformers import AutoModelForCausalLM

        torch.set_num_threads(max(1, num_threads))
        model = AutoModelForCausalLM.from_config(model_config).to(device)
        super().__init__(model, pad_token_id, eos_token_ids, max_batch)
        self.update_weights(weights, version)

    def generate_timed(self, prompts_token_ids: list[list[int]], n: int, sampling: SamplingParams) -> tuple[list[Completion], float]:
        """``generate`` plus its wall seconds (the producer's generation busy fraction)."""
        started = time.perf_counter()
        completions = self.generate(prompts_token_ids, n, sampling)
        return completions, time.perf_counter() - started

    def ready(self) -> int:
        return self._version

    def info(self) -> dict[str, Any]:
        return {"version": self._version, "returns_routes": self.returns_routes, "calls": self.calls}
