"""Shipped data files (package data ``zaya_cascade.data``; see envs/shipped.py)."""
