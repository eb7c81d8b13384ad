"""Shipped cascade configs (package data ``zaya_cascade.configs``; see envs/shipped.py)."""
