"""The rollout engine contract on the hf backend, the staleness buffer and the generation: settings."""

from __future__ import annotations

import pytest
import torch

from cascade.config import GenerationSettings
from cascade.generation.buffer import Group, RolloutBuffer
from cascade.generation.engine import Completion, RolloutEngine, SamplingParams, chat_token_ids
from cascade.generation.hf import HFEngine
from cascade.generation.weights import policy_state_dict
from cascade.policy import add_lora, build_tiny_policy
from cascade.config import LoraSettings
from cascade.recipe.router_replay import RouterRecorder

PROMPTS = ["what is 3 plus 4", "sum", "compute the product of the first numbers please"]


def _sharpen(model) -> None:
    """The fresh tiny router is near-uniform; sharpen it so expert choices are decisive (and skips happen)."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for router in RouterRecorder(model).routers:
            w = router.router_mlp.out_proj.weight
            w.copy_(torch.randn(w.shape, generator=g) * 2.0)


@pytest.fixture(scope="module")
def engine_and_rollout():
    model, tok = build_tiny_policy()
    _sharpen(model)
    engine = HFEngine(model, tok.pad_token_id, [tok.eos_token_id])
    torch.manual_seed(0)
    completions = engine.generate(chat_token_ids(tok, PROMPTS), 2, SamplingParams(max_new_tokens=6, temperature=0.7))
    return model, tok, engine, completions


def test_completions_follow_the_contract(engine_and_rollout):
    model, tok, engine, completions = engine_and_rollout
    assert isinstance(engine, RolloutEngine) and engine.returns_routes and engine.version == 0
    assert len(completions) == 2 * len(PROMPTS)
    layers, top_k = model.config.num_hidden_layers, model.config.moe_router_topk if hasattr(model.config, "moe_router_topk") else 1
    for c in completions:
        assert isinstance(c, Completion) and len(c.token_ids) == len(c.logprobs) <= 6
        assert c.finish_reason in ("stop", "length") and (c.finish_reason == "stop") == (c.token_ids[-1] == tok.eos_token_id)
        assert c.routes.dtype.name == "int16" and c.routes.shape == (len(c.prompt_ids) + len(c.token_ids), layers, top_k)
        assert c.routes[-1].max() == -1 and c.routes[:-1].min() >= 0 and c.routes.max() <= model.config.num_experts
    assert completions[0].prompt_ids == completions[1].prompt_ids != completions[2].prompt_ids  # grouped per prompt


def test_sampling_logprobs_match_the_trainers_recomputation(engine_and_rollout):
    """Behaviour log-probs = log_softmax(logits / T) of the same weights, as TRL recomputes them."""
    model, _, _, completions = engine_and_rollout
    for c in completions:
        ids = torch.tensor([c.prompt_ids + c.token_ids])
        with torch.no_grad():
            logits = model(ids).logits[0, len(c.prompt_ids) - 1 : -1] / 0.7
        recomputed = torch.log_softmax(logits.float(), -1).gather(-1, torch.tensor(c.token_ids)[:, None]).squeeze(-1)
        assert torch.allclose(recomputed, torch.tensor(c.logprobs), atol=1e-5)


def test_engine_routes_replay_exactly_even_after_the_policy_moved(engine_and_rollout):
    model, _, _, completions = engine_and_rollout
    moved, _ = build_tiny_policy()
    moved.load_state_dict(model.state_dict())
    with torch.no_grad():  # a later policy: its own routing differs from the rollout's at some positions
        for router in RouterRecorder(moved).routers:
            router.router_mlp.out_proj.weight.add_(torch.randn_like(router.router_mlp.out_proj.weight))
    recorder = RouterRecorder(moved)
    seen: list[torch.Tensor] = []
    for router in recorder.routers:  # registered after the recorder's hooks: sees the replayed choice
        router.register_forward_hook(lambda m, a, out: seen.append(torch.where(out[1] == 0, m.num_experts, out[2])))
    agree = total = flipped = 0
    for c in completions:
        routes = torch.from_numpy(c.routes).long()[None]
        seen.clear()
        recorder.flipped = recorder.replayed = 0
        with torch.no_grad(), recorder.replaying(routes):
            moved(torch.tensor([c.prompt_ids + c.token_ids]))
        used = torch.stack([s.view(1, -1, s.size(-1)) for s in seen], dim=2)
        valid = routes[..., 0, 0] >= 0
        agree += int((used[valid] == routes[valid]).all(-1).all(-1).sum())
        total += int(valid.sum())
        flipped += recorder.flipped
    assert total > 0 and agree == total  # 100% of valid positions use the recorded expert (or skip)
    assert flipped > 0  # ... although the moved policy alone would have chosen otherwise somewhere


def test_rng_handover_reproduces_in_process_sampling(engine_and_rollout):
    model, tok, engine, _ = engine_and_rollout
    ids, sampling = chat_token_ids(tok, PROMPTS), SamplingParams(max_new_tokens=6)
    state = torch.get_rng_state()
    first, after = engine.generate_with_rng(ids, 1, sampling, state)
    again, after2 = engine.generate_with_rng(ids, 1, sampling, state)
    assert [c.token_ids for c in first] == [c.token_ids for c in again] and torch.equal(after, after2)


def test_update_weights_bumps_the_version_and_changes_outputs(engine_and_rollout):
    model, tok, _, _ = engine_and_rollout
    engine = HFEngine(build_tiny_policy()[0], tok.pad_token_id, [tok.eos_token_id])
    ids, sampling, state = chat_token_ids(tok, PROMPTS), SamplingParams(max_new_tokens=4), torch.get_rng_state()
    before, _ = engine.generate_with_rng(ids, 1, sampling, state)
    engine.update_weights(policy_state_dict(model), 3)
    after, _ = engine.generate_with_rng(ids, 1, sampling, state)
    assert engine.version == 3 and all(c.weight_version == 3 for c in after)
    assert [c.logprobs for c in before] != [c.logprobs for c in after]
    with pytest.raises(RuntimeError):
        engine.update_weights({"not.a.weight": torch.zeros(1)}, 4)  # a wrong model fails loudly


def test_lora_weights_are_merged_for_the_engine():
    model, _ = build_tiny_policy()
    peft = add_lora(model, LoraSettings(enabled=True, r=2, target_modules=["down_proj"]))
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.fill_(0.5)
    state = policy_state_dict(peft)
    plain, _ = build_tiny_policy()
    plain.load_state_dict(state, strict=True)  # clean keys, nothing missing or extra
    x = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        assert torch.allclose(plain(x).logits, peft(x).logits, atol=1e-5)
        assert not any("lora" in k for k in state)


def _group(version: int) -> Group:
    return Group("p", [Completion([1], [2], [0.0], "length", version)])


def test_buffer_evicts_oldest_and_drops_stale():
    buf = RolloutBuffer(capacity=3, max_staleness=1)
    for v in (0, 1, 2, 3):
        buf.put(_group(v))
    assert buf.evicted == 1 and [g.version for g in buf.groups] == [1, 2, 3]
    got = buf.take(2, current_version=3)  # version 1 is 2 behind: dropped
    assert [g.version for g in got] == [2, 3] and buf.dropped_stale == 1 and len(buf) == 0


def test_generation_settings_refuse_what_cannot_take_effect():
    assert GenerationSettings().backend == "trainer"
    with pytest.raises(ValueError, match="no effect"):
        GenerationSettings(max_staleness=2)  # backend trainer has no buffer
    with pytest.raises(ValueError, match="sync_every"):
        GenerationSettings(backend="hf", max_staleness=0, sync_every=2)
    with pytest.raises(ValueError, match="vllm"):
        GenerationSettings(backend="hf", tensor_parallel_size=2)
    assert GenerationSettings(backend="hf", max_staleness=2, sync_every=2).buffer_size is None


def test_sampling_params_mirror_the_trainers_generation_kwargs():
    class T:
        generation_kwargs = {"max_new_tokens": 9, "do_sample": True, "temperature": 0.5, "top_p": 0.9, "top_k": None,
                             "min_p": None, "repetition_penalty": 1.0, "cache_implementation": None, "pad_token_id": 0}
        eos_token_ids = [4, 7]

    s = SamplingParams.from_trainer(T())
    assert (s.max_new_tokens, s.temperature, s.top_p, s.top_k, s.stop_token_ids, s.extra) == (9, 0.5, 0.9, 0, (4, 7), {})


def test_pipeline_verdicts_give_the_task_rewards_the_trainer_would_compute():
    from cascade.generation.scoring import PipelineScorer, PrescoredTaskReward
    from cascade.rewards import TaskReward
    from envs import Task
    from verifiers.pool import LocalVerifierPool

    _, tok = build_tiny_policy()
    tasks = [Task(prompt="1+1?", verifier="math", payload={"answer": "2"}, env_id="t"),
             Task(prompt="2+2?", verifier="math", payload={"answer": "5"}, env_id="t")]
    texts = ["so \\boxed{2}", "\\boxed{4}"]
    groups = [Group(t.prompt, [Completion([1], tok.encode(x, add_special_tokens=False), [0.0], "stop", 0)], t.to_json())
              for t, x in zip(tasks, texts)]
    pool = LocalVerifierPool()
    scorer = PipelineScorer(pool, tok)
    scored = scorer.submit(groups).result()
    scorer.close()
    verdicts = [v for g in scored for v in g.verdicts]
    completions = [[{"role": "assistant", "content": tok.decode(g.completions[0].token_ids, skip_special_tokens=True)}] for g in groups]
    task_col = [t.to_json() for t in tasks]
    plain = TaskReward(pool, 1, None)(None, completions, task_col)
    logged: dict[str, float] = {}
    prescored = PrescoredTaskReward.wrapping(TaskReward(LocalVerifierPool(), 1, None))
    prescored.pool = None  # the verdicts must come from the pipeline, not from a pool
    out = prescored(None, completions, task_col, verdict=verdicts, log_metric=logged.__setitem__)
    assert out == plain and logged["task/accuracy"] == sum(v.correct for v in verdicts) / 2


def test_a_generation_setting_that_cannot_apply_is_a_one_line_config_error(tmp_path):
    from cascade.config import ConfigError, load_config

    path = tmp_path / "c.yaml"
    stage = "run_dir: r\nstages:\n  - {name: s, kind: reasoning_warmup, generation: %s}\n"
    path.write_text(stage % "{max_staleness: 2}")
    with pytest.raises(ConfigError, match=r"c.yaml: stages\[0\].generation: .*no effect"):
        load_config(path)
    path.write_text(stage % "{backend: hf, max_staleness: 2}")
    assert load_config(path).stages[0].generation.max_staleness == 2


def test_generation_settings_survive_a_dump_and_reload():
    for settings in (GenerationSettings(), GenerationSettings(backend="hf", max_staleness=2, verify_in_pipeline=True)):
        assert GenerationSettings.model_validate(settings.model_dump()) == settings
