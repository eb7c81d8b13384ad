"""Build a stage's rollout engines from its ``generation:`` settings (the only place backends are chosen)."""

from __future__ import annotations

from typing import Any

from cascade.config import GenerationSettings
from cascade.generation.engine import RolloutEngine


def in_process_engine(settings: GenerationSettings, model: Any, tokenizer: Any) -> RolloutEngine:
    """An engine over ``model`` itself, for the filter and the CLI (``vllm`` builds its own copy)."""
    if settings.backend == "vllm":
        from cascade.generation.vllm import VLLMEngine

        return VLLMEngine.from_model(model, tokenizer, settings)
    from cascade.generation.hf import HFEngine

    return HFEngine(model, tokenizer.pad_token_id, _eos_ids(model, tokenizer), settings.max_batch)


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    eos = getattr(model.generation_config, "eos_token_id", None)
    ids = [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))
    return ids if tokenizer.eos_token_id in ids else [tokenizer.eos_token_id, *ids]


def actor_factory(settings: GenerationSettings, model: Any, tokenizer: Any):  # noqa: ANN201
    """``(weights, version) -> actor`` for the stage's backend, with its CPU/GPU reservation."""
    import ray

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    options = {"num_cpus": settings.num_cpus, "num_gpus": settings.num_gpus, "max_restarts": 0}
    if settings.backend == "vllm":
        from cascade.generation.vllm import VLLMEngineActor

        cls = ray.remote(**options)(VLLMEngineActor)
        return lambda weights, version: cls.remote(base.config, weights, version, settings)
    from cascade.generation.hf import HFEngineActor

    cls = ray.remote(**options)(HFEngineActor)
    device = "cuda" if settings.num_gpus > 0 else "cpu"
    pad, eos, threads = tokenizer.pad_token_id, _eos_ids(model, tokenizer), max(1, int(settings.num_cpus))
    return lambda weights, version: cls.remote(base.config, weights, version, pad, eos, threads, device, settings.max_batch)


def start_engines(settings: GenerationSettings, model: Any, tokenizer: Any, stream: Any) -> Any:
    """The stage's engine actors and their buffer (``RolloutProducer``), on the rank that owns them.

    Started before anything samples (filter, calibration, RSA refresh), with the incoming weights.
    """
    from cascade.generation.producer import RolloutProducer
    from cascade.generation.weights import policy_state_dict

    return RolloutProducer(
        actor_factory(settings, model, tokenizer), settings.workers, policy_state_dict(model), settings.max_staleness,
        None, None, next_task=stream.next_task, buffer_size=settings.buffer_size,
    )


def stage_sampler(settings: GenerationSettings, producer: Any, model: Any, tokenizer: Any) -> Any | None:
    """What this rank samples with before and beside training (filter, calibration, RSA refresh):
    the stage's engine actors on their owner (None on the other ranks), else the policy in-process."""
    if not settings.has_engines:
        return in_process_engine(settings, model, tokenizer)
    if producer is None:
        return None
    from cascade.generation.actors import ActorPoolEngine

    return ActorPoolEngine(producer.actors)


def build_rollout(settings: GenerationSettings, model: Any, tokenizer: Any, stream: Any, group_size: int,
                  router_replay: bool, reward_funcs: list[Any] | None = None, pool: Any = None,
                  producer: Any = None, owner: bool | None = None) -> tuple[Any, list[Any], list[Any]]:
    """``(rollout_func, callbacks, reward_funcs)`` for a stage whose backend is not ``trainer``.

    ``owner`` (default: rank 0) holds the engines: ``producer`` if already started, else started
    here; on a multi-worker stage the other ranks get a rollout that receives their rows from it.
    Router replay needs routes from the engine: a backend that cannot return them fails here, at
    stage start, instead of training without replay. With ``verify_in_pipeline`` the ``task``
    reward is swapped (on every rank) for one that reads the pipeline's verdicts.
    """
    from cascade.distributed import is_main

    owner = is_main() if owner is None else owner
    reward_funcs = list(reward_funcs or [])
    if settings.verify_in_pipeline:
        from cascade.generation.scoring import PrescoredTaskReward
        from cascade.rewards import TaskReward

        if pool is None or not any(type(f) is TaskReward for f in reward_funcs):
            raise ValueError("generation.verify_in_pipeline needs the stage's `task` reward and its verifier pool")
        reward_funcs = [PrescoredTaskReward.wrapping(f) if type(f) is TaskReward else f for f in reward_funcs]
    from cascade.generation.rollout import EngineRollout
    from cascade.generation.weights import WeightSyncCallback

    if owner:
        producer = producer or start_engines(settings, model, tokenizer, stream)
        _prepare_producer(producer, settings, tokenizer, group_size, router_replay, pool)
    else:
        producer = None
    return EngineRollout(producer, settings.max_staleness, settings.backend), [WeightSyncCallback(producer, settings.sync_every)], reward_funcs


def _prepare_producer(producer: Any, settings: GenerationSettings, tokenizer: Any, group_size: int,
                      router_replay: bool, pool: Any) -> None:
    """Group size and pipeline scorer for training; refuses router replay on engines without routes."""
    import ray

    producer.group_size = group_size
    if router_replay:
        infos = ray.get([a.info.remote() for a in producer.actors])
        if not all(i["returns_routes"] for i in infos):
            producer.close()
            raise ValueError(f"router replay is on but the {settings.backend} engines return no routed experts; "
                             "set trainer.router_replay: false explicitly or use a backend that returns routes")
    if settings.verify_in_pipeline:
        from cascade.generation.scoring import PipelineScorer

        producer.scorer = PipelineScorer(pool, tokenizer)
