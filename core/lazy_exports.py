"""A package's public names loaded on first use (PEP 562): importing the package stays cheap, and each name costs only
its own module's import the first time it is read."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from importlib import import_module
from typing import Any


def lazy_export(package: str, where: Mapping[str, str], name: str) -> Any:
    """The body of a package's `__getattr__`: `name` read from its submodule `where[name]` (relative to `package`)
    and kept on the package, so the next read is a plain attribute; a name not listed is the usual AttributeError."""
    if name not in where:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    value = getattr(import_module(f".{where[name]}", package), name)
    setattr(sys.modules[package], name, value)
    return value
