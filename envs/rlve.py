"""RLVE-Gym adapter: each of the 400 rlve-gym generators as ``rlve/<Identifier>``.

Difficulty ``d`` is the number of ``update()`` calls on the environment's parameter
controller (RLVE's own definition). A task is rebuilt exactly from (identifier, d, seed):
the controller gives a list of parameter dicts at ``d``, ``Random(seed)`` picks one, and
rlve's generator seeds the global RNGs with ``seed``. Because those generators reseed the
process-wide ``random``/numpy/torch RNGs, every call here saves and restores them.

The payload carries the generated problem (``env.get_config()``, tagged-JSON encoded) so
the "rlve" verifier can score with ``set_config`` instead of regenerating; it falls back to
regeneration when the config is absent.
"""

from __future__ import annotations

import functools
import random
from typing import Any

from envs.base import EnvInfo, Environment, register_provider
from envs.generated import decode_jsonable, preserved_global_rng, try_encode
from envs.task import Task

ANSWER_INSTRUCTION = (
    "\n\nPut your final answer between <answer> and </answer> tags, for example "
    "<answer>your answer</answer>. Only the content of the last <answer>...</answer> block is graded."
)


class RLVEGenerationError(RuntimeError):
    """rlve's generator returned False (it swallows its own exceptions and timeouts)."""


# ---------------------------------------------------------------- rlve access
@functools.lru_cache(maxsize=1)
def rlve_identifiers() -> tuple[str, ...]:
    """The rlve-gym identifiers, read from the (cheap) controller registry.

    Importing ``Gym.parameter_controllers`` takes ~0.2 s; ``Gym.environments`` imports
    all 400 environment modules plus torch (~2 s), so listing avoids it.
    """
    from Gym.parameter_controllers import identifier2controller

    return tuple(sorted(identifier2controller))


def _environment_class(identifier: str) -> type:
    from Gym.environments import identifier2environment

    return identifier2environment[identifier]


def parameter_for(identifier: str, difficulty: int, seed: int) -> tuple[int, dict[str, Any]]:
    """(index, parameter dict) at ``difficulty``: the controller after ``difficulty`` updates."""
    from Gym.parameter_controllers import identifier2controller

    controller = identifier2controller[identifier]()
    for _ in range(int(difficulty)):
        controller.update()
    options = controller.get_parameter_list()
    if not options:
        raise RLVEGenerationError(f"{identifier}: no parameters at difficulty {difficulty}")
    index = random.Random(int(seed)).randrange(len(options))
    return index, options[index]


def build_problem(
    identifier: str, difficulty: int, seed: int, timeout_s: float = 10.0, env_kwargs: dict | None = None
) -> tuple[Any, int]:
    """Generate the rlve problem for (identifier, difficulty, seed); returns (env, param index).

    Call inside :func:`preserved_global_rng` (the generator reseeds the global RNGs).
    """
    index, parameter = parameter_for(identifier, difficulty, seed)
    env = _environment_class(identifier)(**(env_kwargs or {}))
    if not env.generator(int(seed), parameter, timeout_second=timeout_s):
        raise RLVEGenerationError(f"{identifier}: generator failed at difficulty {difficulty}, seed {seed}")
    return env, index


def problem_from_payload(payload: dict[str, Any], timeout_s: float = 30.0) -> Any:
    """Rebuild a scorable rlve environment from a task payload (for the verifier)."""
    identifier = payload["env"]
    env_kwargs = payload.get("env_kwargs") or {}
    if payload.get("config") is not None:
        env = _environment_class(identifier)(**env_kwargs)
        env.set_config(decode_jsonable(payload["config"]))
        return env
    with preserved_global_rng():
        env, _ = build_problem(identifier, payload["difficulty"], payload["seed"], timeout_s, env_kwargs)
    return env


def _reference_candidates(answer: Any) -> list[str]:
    out = []
    if isinstance(answer, (list, tuple)):
        if answer and all(isinstance(row, (list, tuple)) for row in answer):
            out.append("\n".join(" ".join(map(str, row)) for row in answer))
        out.append(" ".join(map(str, answer)))
    out.append(str(answer))
    return out


def reference_completion(env: Any) -> str | None:
    """``<answer>X</answer>`` from the env's reference answer, kept only if its verifier accepts it."""
    parameter = env.parameter or {}
    if "reference_answer" not in parameter:
        return None
    for text in _reference_candidates(parameter["reference_answer"]):
        completion = f"<answer>{text}</answer>"
        try:
            if env.verifier(completion)["accuracy"] == 1:
                return completion
        except Exception:  # noqa: BLE001 - a broken reference just means no reference
            continue
    return None


class RLVEEnvironment(Environment):
    """One rlve-gym generator behind the Environment contract."""

    source = "rlve"

    def __init__(self, identifier: str, timeout_s: float = 10.0, env_kwargs: dict | None = None) -> None:
        if identifier not in rlve_identifiers():
            from envs.base import UnknownEnvironmentError

            raise UnknownEnvironmentError(f"unknown rlve-gym environment {identifier!r}")
        self.identifier = identifier
        self.env_id = f"rlve/{identifier}"
        self.timeout_s = float(timeout_s)
        self.env_kwargs = dict(env_kwargs or {})

    def sample(self, seed: int, difficulty: int = 0) -> Task:
        d = self.clamp(difficulty)
        with preserved_global_rng():
            env, index = build_problem(self.identifier, d, seed, self.timeout_s, self.env_kwargs)
            prompt = env.prompt_generator().rstrip() + ANSWER_INSTRUCTION
            reference = reference_completion(env)
        payload = {
            "env": self.identifier,
            "difficulty": d,
            "seed": int(seed),
            "parameter_index": index,
            "env_kwargs": self.env_kwargs,
            "config": try_encode(env.get_config()),
        }
        return Task(
            prompt=prompt,
            verifier="rlve",
            payload=payload,
            env_id=self.env_id,
            difficulty=d,
            seed=int(seed),
            reference=reference,
            meta={"source": "rlve"},
        )


def _list_infos() -> list[EnvInfo]:
    return [EnvInfo(f"rlve/{i}", "rlve", 0, None, f"RLVE-Gym {i}", isolated=True) for i in rlve_identifiers()]


# rlve-gym generators reseed process-wide RNGs and time themselves out with threads
register_provider("rlve", _list_infos, RLVEEnvironment, isolated=True)
