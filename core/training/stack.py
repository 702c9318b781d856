"""The one check that torch is there: the trainers need it, everything else in this package does not."""

from __future__ import annotations

from ..errors import TuneUnavailable

INSTALL_LINE = "tuning needs the optional training stack: pip install 'edgemind[tune]'"


def unavailable(*missing: str) -> TuneUnavailable:
    """The one line every part of the training stack says when a package of the `[tune]` extra is missing."""
    return TuneUnavailable(f"{INSTALL_LINE} (missing: {', '.join(missing)})")


def require_torch() -> None:
    """Raise TuneUnavailable, with the install line, when torch is missing (or cannot be imported)."""
    try:
        import torch  # noqa: F401  # third-party, optional extra: the trainers import it next anyway
    except ImportError as exc:
        raise unavailable("torch") from exc
