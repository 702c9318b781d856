"""The one check that torch is there: the trainers need it, everything else in this package does not."""

from __future__ import annotations

import importlib.util

from ..errors import TuneUnavailable

INSTALL_LINE = "tuning needs the optional training stack: pip install 'edgemind[tune]'"


def require_torch() -> None:
    """Raise TuneUnavailable, with the install line, when torch is missing."""
    if importlib.util.find_spec("torch") is None:
        raise TuneUnavailable(f"{INSTALL_LINE} (missing: torch)")
