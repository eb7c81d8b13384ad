"""CascadeGRPOTrainer: TRL's GRPOTrainer with the recipe switches of CascadeGRPOConfig."""

from __future__ import annotations

from trl import GRPOTrainer


class CascadeGRPOTrainer(GRPOTrainer):
    """GRPOTrainer that honours CascadeGRPOConfig's recipe switches."""
