"""The headless engine. Never imports Qt. The public surface is listed in __all__; the rest is internal.

Names load on first use (PEP 562), so importing one light module (`edgemind.core.backends.base`) does not pull in
the engine, SQLAlchemy and llama.cpp: the desktop app shows its window before any of that loads.
"""

from __future__ import annotations

from typing import Any

from .lazy_exports import lazy_export

__version__ = "0.1.0"

_WHERE = {
    "CancelToken": "backends.base", "GenerationParams": "backends.base", "Message": "backends.base",
    "AskOptions": "engine", "AskResult": "engine", "Engine": "engine",
    "BackendUnavailable": "errors", "ConfigError": "errors", "EdgeMindError": "errors", "ModelError": "errors",
    "ModelIntegrityError": "errors", "ModelNotFound": "errors", "PromptError": "errors", "StoreError": "errors",
    "Done": "events", "Error": "events", "Event": "events", "Metrics": "events", "Route": "events", "Token": "events",
    "Settings": "settings", "load_settings": "settings",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    return lazy_export(__name__, _WHERE, name)
