"""Stage flags: each check trips on synthetic metrics made to trip it, and a clean run trips none."""

from __future__ import annotations

from synthetic_metrics import rl_stage

from cascade.report.flags import stage_flags


def clean(steps: int = 20) -> list[dict]:
    recs = rl_stage("clean", steps=steps, layers=0, envs=3)
    return recs


def metrics_of(flags) -> list[str]:
    return [f.metric for f in flags]


def test_a_learning_stage_has_no_flags():
    assert stage_flags(clean()) == []


def test_dynamic_sampling_dropping_most_groups_is_flagged():
    recs = [{**r, "dynamic_sampling/dropped_frac": 0.95} for r in clean()]
    assert metrics_of(stage_flags(recs)) == ["dynamic_sampling/dropped_frac"]


def test_zero_grad_norm_on_most_steps_is_flagged_but_not_on_a_few():
    recs = clean()
    few = [{**r, "grad_norm": 0.0} if i < 5 else r for i, r in enumerate(recs)]
    most = [{**r, "grad_norm": 0.0} if i < 15 else r for i, r in enumerate(recs)]
    assert stage_flags(few) == []
    flags = stage_flags(most)
    assert metrics_of(flags) == ["grad_norm"] and "15/20" in flags[0].message


def test_every_reward_zero_is_flagged():
    recs = [{**r, "reward": 0.0} for r in clean()]
    assert metrics_of(stage_flags(recs)) == ["reward"]


def test_verifier_timeouts_and_crashes_above_one_percent_are_flagged():
    recs = clean()
    ok = [{**r, "task/reason/verifier_timeout": 0.005} if i == 0 else r for i, r in enumerate(recs)]
    assert stage_flags(ok) == []
    bad = [{**r, "task/reason/verifier_timeout": 0.01, "task/reason/verifier_crash": 0.01} for r in recs]
    flags = stage_flags(bad)
    assert metrics_of(flags) == ["task/reason/verifier_crash,task/reason/verifier_timeout"]
    assert "2.0%" in flags[0].message


def test_a_curriculum_that_never_moved_is_flagged():
    recs = [{k: (2.0 if k.endswith("/difficulty") else v) for k, v in r.items()} for r in clean()]
    flags = stage_flags(recs)
    assert metrics_of(flags) == ["curriculum/*/difficulty"] and "never moved" in str(flags[0])


def test_the_issue_stage_that_learned_nothing_gets_every_matching_flag():
    """math_code_rl of the demo: 0.000 -> 0.000, every group dropped, grad norm 0."""
    recs = [{"step": s, "reward": 0.0, "grad_norm": 0.0, "dynamic_sampling/dropped_frac": 1.0, "task/reason/wrong_answer": 1.0} for s in (1, 2)]
    recs.append({"step": 2, "train_runtime": 3.0, "train_loss": 0.0})
    assert metrics_of(stage_flags(recs)) == ["dynamic_sampling/dropped_frac", "grad_norm", "reward"]


def test_a_stage_without_metrics_has_no_flags():
    assert stage_flags([]) == [] and stage_flags([{"step": 1, "loss": 1.0}]) == []
