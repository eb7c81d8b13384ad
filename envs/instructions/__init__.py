"""Instruction-following environments ("if/simple", "if/hard") and their constraint catalogue."""

from envs.instructions.env import CATALOGUE, EASY_IDS, POOLS, InstructionEnv, load_prompts
from envs.instructions.spec import ConstraintSpec

__all__ = ["CATALOGUE", "EASY_IDS", "POOLS", "ConstraintSpec", "InstructionEnv", "load_prompts"]
