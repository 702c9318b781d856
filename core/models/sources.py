"""Live model sources: a server whose models are listed when asked (Ollama's, or one a package adds through the
`edgemind.model_sources` entry points). A source registered as NAME gives its models the ids "NAME:<model>".

Listing may need the network; building one model's spec never does, so `ollama:qwen` resolves with the server down.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..settings import Settings
from .manifest import ModelSpec


class ModelSource(Protocol):
    def names(self, settings: Settings) -> list[str]:
        """The models the source has now; raise when it cannot be reached (the registry lists none then)."""
        ...

    def spec(self, settings: Settings, name: str) -> ModelSpec:
        """The spec of one model (its id "<source>:<name>", backend, endpoint, remote_model), without the network."""
        ...


class OllamaSource:
    """The configured Ollama server's models, listed by `lister` (the ollama backend's, given by the caller, so this
    layer never imports the ollama client)."""

    prefix = "ollama:"

    def __init__(self, lister: Callable[..., list[str]] | None = None) -> None:
        self._lister = lister

    def names(self, settings: Settings) -> list[str]:
        if self._lister is None:  # resolves ollama:NAME ids, lists nothing
            return []
        return self._lister(settings.ollama_host, api_key=settings.ollama_api_key)

    def spec(self, settings: Settings, name: str) -> ModelSpec:
        return ModelSpec(id=self.prefix + name, backend="ollama", roles=("chat",), endpoint=settings.ollama_host,
                         remote_model=name, api_key=settings.ollama_api_key)
