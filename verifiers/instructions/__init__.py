"""Instruction-following constraint checkers (IFEval + IFBench), registered as "instructions"."""

from verifiers.instructions.payload import Constraint, InstructionPayloadError, parse_payload
from verifiers.instructions.registry import IFBENCH_IDS, IFEVAL_IDS, build_checker, checker_ids
from verifiers.instructions.schema import UNSUPPORTED
from verifiers.instructions.verifier import InstructionsVerifier

__all__ = [
    "IFBENCH_IDS",
    "IFEVAL_IDS",
    "UNSUPPORTED",
    "Constraint",
    "InstructionPayloadError",
    "InstructionsVerifier",
    "build_checker",
    "checker_ids",
    "parse_payload",
]
