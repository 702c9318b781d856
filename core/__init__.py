"""The headless engine. Never imports Qt. The public surface is listed in __all__; the rest is internal."""

from .backends.base import CancelToken, GenerationParams, Message
from .engine import AskOptions, AskResult, Engine
from .errors import (BackendUnavailable, ConfigError, EdgeMindError, ModelError, ModelIntegrityError, ModelNotFound,
                     PromptError, StoreError)
from .events import Done, Error, Event, Metrics, Route, Token
from .settings import Settings, load_settings

__version__ = "0.1.0"

__all__ = [
    "AskOptions", "AskResult", "BackendUnavailable", "CancelToken", "ConfigError", "Done", "EdgeMindError", "Engine",
    "Error", "Event", "GenerationParams", "Message", "Metrics", "ModelError", "ModelIntegrityError", "ModelNotFound",
    "PromptError", "Route", "Settings", "StoreError", "Token", "load_settings",
]
