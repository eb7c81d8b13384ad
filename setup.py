"""Package layout that pyproject.toml cannot express: the repo's configs/ and data/ ship as package data.

They install as ``zaya_cascade.configs`` and ``zaya_cascade.data`` (siblings, as in the repo), found
through ``importlib.resources`` (envs/shipped.py) in a checkout and in an installed wheel alike, so a
shipped config's ``../data/...`` paths resolve in both.
"""

from setuptools import find_packages, setup

RESOURCES = {"zaya_cascade.configs": "configs", "zaya_cascade.data": "data"}

setup(
    packages=find_packages(include=["cascade*", "envs*", "verifiers*", "stages*"]) + list(RESOURCES),
    package_dir=RESOURCES,
    package_data={"zaya_cascade.configs": ["*.yaml", "inference/*.yaml"], "zaya_cascade.data": ["*.jsonl", "**/*.jsonl", "**/*.json"]},
)
