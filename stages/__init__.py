"""Stage kinds: small declarations of default envs, rewards and trainer settings.

The contract and registry live in ``stages.base``; the imports below register every
built-in kind (one module each). A kind name defined twice is an error.
"""

from stages.base import STAGE_KINDS, VERIFIABLE_RL_DEFAULTS, StageKind, get_stage_kind, register_stage

from stages import behavioral_rl, math_code_rl, reasoning_warmup, rlve_curriculum, sft  # noqa: E402,F401  isort: skip

__all__ = ["STAGE_KINDS", "VERIFIABLE_RL_DEFAULTS", "StageKind", "get_stage_kind", "register_stage"]
