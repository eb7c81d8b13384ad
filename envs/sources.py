"""Imports every built-in environment module so that each registers itself."""

# One import per module; each module calls register_env / register_provider.
import envs.arithmetic  # noqa: F401
import envs.instructions  # noqa: F401
import envs.code  # noqa: F401
import envs.data  # noqa: F401
import envs.rlve  # noqa: F401
import envs.reasoning_gym  # noqa: F401
import envs.rsa  # noqa: F401
import envs.chat  # noqa: F401
