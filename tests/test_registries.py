"""Every registry has one shape: a name defined twice with two definitions is an error naming both."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from envs.registry import Registry, RegistryError

ROOT = Path(__file__).resolve().parents[1]


def test_registry_refuses_a_second_definition_and_names_both():
    reg: Registry = Registry("widget")

    def first(): ...

    def second(): ...

    reg.add("w", first)
    reg.add("w", first)  # the same definition again (a module imported twice) is fine
    with pytest.raises(RegistryError) as err:
        reg.add("w", second)
    message = str(err.value)
    assert "widget 'w' is defined twice" in message
    assert f"{__name__}:test_registry_refuses_a_second_definition_and_names_both.<locals>.first" in message
    assert "<locals>.second" in message
    assert reg.get("w") is first


def test_declared_entries_import_on_first_lookup_and_clash_like_registered_ones():
    reg: Registry = Registry("thing")
    reg.declare("dumps", "json:dumps")
    assert "dumps" in reg and reg.get("dumps") is json.dumps
    with pytest.raises(RegistryError, match="json:dumps and json:loads"):
        reg.declare("dumps", "json:loads")


def test_environment_ids_and_providers_refuse_repeats():
    from envs import Environment, register_env, register_provider

    class Twin(Environment):
        def sample(self, seed, difficulty=0): ...

    with pytest.raises(RegistryError, match=r"environment 'arith/add' is defined twice: envs\.arithmetic:_factory\.<locals>\.make and .*Twin"):
        register_env("arith/add")(Twin)
    with pytest.raises(RegistryError, match=r"environment provider 'rlve' is defined twice: envs\.rlve:RLVEEnvironment and .*Twin"):
        register_provider("rlve", list, Twin)


def test_verifiers_refuse_repeats():
    from verifiers import Verifier, register_verifier, verifier_class

    class OtherMath(Verifier):
        def verify(self, completion, payload): ...

    with pytest.raises(RegistryError, match=r"verifier 'math' is defined twice: verifiers\.math\.verifier:MathVerifier and .*OtherMath"):
        register_verifier("math")(OtherMath)
    assert verifier_class("math").__name__ == "MathVerifier"


def test_stage_kinds_controllers_and_rewards_refuse_repeats():
    from cascade.rewards import REWARDS
    from envs.curriculum import ZayaController, register_controller
    from stages import StageKind, register_stage

    with pytest.raises(RegistryError, match=r"stage kind 'sft' is defined twice: stages\.sft:sft and (tests\.)?test_registries:sft"):
        register_stage(StageKind(name="sft", trainer="sft", description="", envs=[]))

    class Zaya2(ZayaController):
        name = "zaya"

    with pytest.raises(RegistryError, match=r"curriculum controller 'zaya' is defined twice: envs\.curriculum\.controllers:ZayaController"):
        register_controller(Zaya2)
    with pytest.raises(RegistryError, match=r"reward 'reward_model' is defined twice: cascade\.rm_reward:RewardModelReward"):
        REWARDS.add("reward_model", Zaya2)


def test_isolation_is_declared_by_the_source():
    from envs import is_isolated, list_envs

    infos = list_envs()
    assert {i.source for i in infos if i.isolated} == {"rlve", "rg"}
    assert is_isolated("rlve/Multiplication") and is_isolated("rg/basic_arithmetic")
    assert not is_isolated("arith/add") and not is_isolated("code/problems")


def test_base_modules_load_without_their_plugins():
    """The verifier registry declares built-ins by path: importing verifiers loads none of them."""
    probe = "import sys, verifiers; print(sorted(m for m in sys.modules if m.startswith('verifiers.')))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['verifiers.base']"
