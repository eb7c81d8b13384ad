"""Where prompts come from: Task, Environment, the registry and curricula.

Registration is explicit: the imports at the bottom load every built-in source, and each
source module registers its environments or provider as it is imported. ``envs.base``
itself imports none of them.
"""

from envs.base import (
    EnvInfo,
    Environment,
    UnknownEnvironmentError,
    get_env,
    is_isolated,
    list_envs,
    register_env,
    register_provider,
)
from envs.task import Task

# The built-in sources, one import each (order does not matter; a repeated id is an error).
from envs import arithmetic, chat, code, data, instructions, reasoning_gym, rlve, rsa  # noqa: E402,F401  isort: skip

__all__ = [
    "EnvInfo",
    "Environment",
    "Task",
    "UnknownEnvironmentError",
    "get_env",
    "is_isolated",
    "list_envs",
    "register_env",
    "register_provider",
]
