"""CascadeGRPOConfig: TRL's GRPOConfig plus the recipe switches, one documented field each."""

from __future__ import annotations

from dataclasses import dataclass

from trl import GRPOConfig


@dataclass
class CascadeGRPOConfig(GRPOConfig):
    """GRPOConfig with the ZAYA1 recipe switches (all off unless a stage turns them on)."""
