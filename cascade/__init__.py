"""Orchestration: config schema, CLI, Ray driver, stage runner, policy, trainer, reports."""

__version__ = "0.1.0"
