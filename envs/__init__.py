"""Where prompts come from: Task, Environment, the registry and curricula."""

from envs.base import EnvInfo, Environment, UnknownEnvironmentError, get_env, list_envs, register_env, register_provider
from envs.task import Task

__all__ = [
    "EnvInfo",
    "Environment",
    "Task",
    "UnknownEnvironmentError",
    "get_env",
    "list_envs",
    "register_env",
    "register_provider",
]
