"""Imports every built-in verifier module so that each registers itself."""

# One import per module; each module registers its verifiers with @register_verifier.
import verifiers.answer  # noqa: F401
import verifiers.instructions  # noqa: F401
import verifiers.code  # noqa: F401
import verifiers.math  # noqa: F401
import verifiers.rlve  # noqa: F401
import verifiers.reasoning_gym  # noqa: F401
import verifiers.reward_model  # noqa: F401
