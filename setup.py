"""Package discovery, the one thing pyproject.toml cannot say: the layer folders sit at the top of the repository and
are imported as `edgemind.<folder>`, so every package under them is found and prefixed here. A new subpackage can
never be missing from a built wheel (tests/test_packaging.py builds one and imports every module from it)."""

from setuptools import find_packages, setup

LAYERS = ("app", "core", "plugins", "kernels", "resources")

setup(
    package_dir={f"edgemind.{layer}": layer for layer in LAYERS},
    packages=[f"edgemind.{name}" for name in find_packages(include=[*LAYERS, *(f"{layer}.*" for layer in LAYERS)])],
)
