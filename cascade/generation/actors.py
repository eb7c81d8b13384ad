"""The engine contract over a stage's engine actors, for what samples before or beside training.

On a stage with rollout engines (``generation.backend`` hf or vllm) the pass-rate filter, the
curriculum calibration and the on-policy RSA refresh sample through the same actors that feed
training, not through a second copy of the policy inside the training worker (at 8B that copy
would not fit beside the trainer on its GPU). Rank 0 owns the actors, so these callers sample
their whole share on rank 0 and gather the results to every rank (``owner_share``).
"""

from __future__ import annotations

from typing import Any

from cascade.distributed import is_main, rank, world_size
from cascade.generation.engine import Completion, SamplingParams


class ActorPoolEngine:
    """``generate`` split into contiguous chunks over the actors, results in prompt order.

    The actors' weights are the producer's (synced every ``sync_every`` steps); requests queue
    behind the actors' pending rollouts, as Ray runs an actor's calls in order.
    """

    def __init__(self, actors: list[Any]) -> None:
        if not actors:
            raise ValueError("ActorPoolEngine needs at least one engine actor")
        self.actors = actors

    @property
    def version(self) -> int:
        import ray

        return int(ray.get(self.actors[0].ready.remote()))

    @property
    def returns_routes(self) -> bool:
        import ray

        return all(i["returns_routes"] for i in ray.get([a.info.remote() for a in self.actors]))

    def generate(self, prompts_token_ids: list[list[int]], n: int, sampling: SamplingParams) -> list[Completion]:
        import ray

        step = -(-len(prompts_token_ids) // len(self.actors)) if prompts_token_ids else 1
        chunks = [prompts_token_ids[s : s + step] for s in range(0, len(prompts_token_ids), step)]
        refs = [actor.generate_timed.remote(chunk, n, sampling) for actor, chunk in zip(self.actors, chunks)]
        return [c for completions, _seconds in ray.get(refs) for c in completions]

    def update_weights(self, weights: Any, version: int) -> None:
        import ray

        ref = weights if isinstance(weights, ray.ObjectRef) else ray.put(weights)
        ray.get([a.update_weights.remote(ref, version) for a in self.actors])


def owner_share(n: int, shared: bool) -> list[int]:
    """Indices of ``n`` items this rank samples: all on rank 0 when the engines are the stage's
    shared actors, else every ``world``-th from this rank (each rank has its own engine)."""
    if shared:
        return list(range(n)) if is_main() else []
    return list(range(rank(), n, world_size()))
