"""Reward-model scoring: any ``AutoModelForSequenceClassification`` checkpoint, batched.

``RewardModelScorer`` loads the model once and scores (prompt, completion) pairs in
batches of ``batch_size``, formatted the way TRL formats them for a reward model (the
chat template over prompt + assistant turn, right padding, logit 0). ``RewardModelServer``
is the same scorer as a Ray actor, so the model lives outside the trainer process and can
sit on a GPU of its own (``num_gpus``). The "none" verifier, for prompts with nothing
to check (plain chat scored by the reward model alone), lives here too.
"""

from __future__ import annotations

from typing import Any

from verifiers.base import Verdict, Verifier, register_verifier

Prompt = str | list[dict[str, str]]
Pair = tuple[Prompt, str]  # (prompt text or chat messages, completion text)


@register_verifier("none")
class NoCheckVerifier(Verifier):
    """Accepts every completion: the gate for prompts that only a reward model judges."""

    def verify(self, completion: str, payload: dict[str, Any]) -> Verdict:
        return Verdict(reward=1.0, correct=True, reason="unchecked")


class RewardModelScorer:
    """A reward model in this process; ``forward_calls`` counts batches for tests and metrics."""

    def __init__(
        self, path: str, batch_size: int = 16, device: str | None = None, max_length: int | None = None,
        dtype: str = "auto", trust_remote_code: bool = False,
    ) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.truncation_side = "left"  # an over-long pair keeps its completion, which is what is judged
        self.model = AutoModelForSequenceClassification.from_pretrained(
            path, dtype=dtype, trust_remote_code=trust_remote_code
        ).to(self.device).eval()
        self.model.config.pad_token_id = self.tokenizer.pad_token_id
        if getattr(self.model.config, "num_labels", 1) != 1:
            raise ValueError(f"{path}: a reward model has num_labels=1, this one has {self.model.config.num_labels}")
        limit = getattr(self.model.config, "max_position_embeddings", None) or self.tokenizer.model_max_length
        self.max_length = int(max_length or min(limit, self.tokenizer.model_max_length))
        self.forward_calls = 0

    def format(self, prompt: Prompt, completion: str) -> str:
        """Prompt and completion as the text the reward model reads (its chat template if any)."""
        if isinstance(prompt, list) and self.tokenizer.chat_template:
            messages = [*prompt, {"role": "assistant", "content": completion}]
            return self.tokenizer.apply_chat_template(messages, tokenize=False)
        if isinstance(prompt, list):
            prompt = "\n".join(str(m.get("content", "")) for m in prompt)
        return prompt + completion

    def score(self, pairs: list[Pair]) -> list[float]:
        """One scalar per pair, in order."""
        import torch

        scores: list[float] = []
        for start in range(0, len(pairs), self.batch_size):
            texts = [self.format(p, c) for p, c in pairs[start : start + self.batch_size]]
            enc = self.tokenizer(
                texts, return_tensors="pt", padding=True, padding_side="right", truncation=True,
                max_length=self.max_length, add_special_tokens=False,
            ).to(self.device)
            with torch.inference_mode():
                logits = self.model(**enc).logits[:, 0]
            self.forward_calls += 1
            scores.extend(logits.float().cpu().tolist())
        return scores


class RewardModelServer:
    """Ray actor body: one scorer, fed whole reward batches, scoring them ``batch_size`` at a time."""

    def __init__(self, path: str, batch_size: int = 16, **options: Any) -> None:
        self.scorer = RewardModelScorer(path, batch_size=batch_size, **options)

    def score(self, pairs: list[Pair]) -> list[float]:
        return self.scorer.score(pairs)

    def forward_calls(self) -> int:
        return self.scorer.forward_calls


def start_reward_model_server(
    path: str, batch_size: int = 16, num_gpus: float = 0, num_cpus: float = 0, shared_name: str | None = None,
    **options: Any,
) -> Any:
    """A ``RewardModelServer`` actor handle; on a GPU when ``num_gpus`` > 0 (Ray picks which).

    ``shared_name``: one named actor for every caller that passes the same name (the first call
    starts it, the others get its handle), so the ranks of a multi-worker stage share one model.
    """
    import ray

    device = "cuda" if num_gpus > 0 else "cpu"
    actor = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, max_restarts=0)(RewardModelServer)
    if shared_name is not None:
        actor = actor.options(name=shared_name, get_if_exists=True)
    return actor.remote(path, batch_size=batch_size, device=device, **options)
