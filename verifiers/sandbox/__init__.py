"""Sandboxed execution of untrusted Python programs (see runner.py for the layers)."""

from verifiers.sandbox.config import SandboxConfig
from verifiers.sandbox.mounts import SandboxUnavailable
from verifiers.sandbox.runner import RunResult, preflight, run_python

__all__ = ["RunResult", "SandboxConfig", "SandboxUnavailable", "preflight", "run_python"]
