"""The Ollama backend: any Ollama server (or EdgeMind's own Ollama-compatible API) through the official client."""

from __future__ import annotations

from typing import Any

from ..errors import BackendUnavailable, ModelNotFound
from ..events import BackendDone
from ..models.manifest import ModelSpec
from .base import CancelToken, ChunkStream, GenerationParams, Message


def _auth(api_key: str | None) -> dict[str, str]:
    # Ollama itself has no keys; a server that speaks its API behind a key (EdgeMind's own) takes a Bearer header.
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def list_ollama_models(host: str, timeout: float = 1.0, api_key: str | None = None) -> list[str]:
    """Names of the models an Ollama server has; raises if none answers (the registry treats that as 'none')."""
    import ollama  # here and below, not at the top: the client and its pydantic types cost ~0.3 s at every start

    listing = ollama.Client(host=host, timeout=timeout, headers=_auth(api_key)).list()
    return [m.model for m in listing.models if m.model]


def _get(obj: Any, key: str, default: Any = None) -> Any:
    value = getattr(obj, key, None)
    if value is None and isinstance(obj, dict):
        value = obj.get(key)
    return default if value is None else value


class OllamaBackend:
    name = "ollama"

    def __init__(self, spec: ModelSpec, *, timeout: float = 60.0, **_: Any) -> None:
        self._spec = spec
        self._host = spec.endpoint or "http://127.0.0.1:11434"
        import ollama

        self._client = ollama.Client(host=self._host, timeout=timeout, headers=_auth(spec.api_key))
        self._load_ms = 0.0

    def context_window(self) -> int | None:
        return self._spec.context_length or None

    def take_load_ms(self) -> float:
        load_ms, self._load_ms = self._load_ms, 0.0
        return load_ms

    def count_tokens(self, messages: list[Message]) -> int | None:
        return None

    def stream(self, messages: list[Message], params: GenerationParams, cancel: CancelToken) -> ChunkStream:
        import httpx
        import ollama

        options: dict[str, Any] = {
            "temperature": params.temperature, "top_p": params.top_p, "top_k": params.top_k,
            "repeat_penalty": params.repeat_penalty, "num_predict": params.max_tokens,
        }
        if params.seed is not None:
            options["seed"] = params.seed
        if params.stop:
            options["stop"] = list(params.stop)
        produced, prompt_tokens, finish = 0, 0, "length"
        try:
            response = self._client.chat(
                model=self._spec.remote_model or "",
                messages=[{"role": m.role, "content": m.content} for m in messages],
                stream=True, options=options, format=params.json_schema,
            )
            try:
                for chunk in response:
                    if cancel.cancelled:
                        finish = "cancelled"
                        break
                    text = _get(_get(chunk, "message", {}), "content", "")
                    if text:
                        produced += 1
                        yield text
                    if _get(chunk, "done", False):
                        produced = _get(chunk, "eval_count", produced)
                        prompt_tokens = _get(chunk, "prompt_eval_count", 0)
                        self._load_ms = _get(chunk, "load_duration", 0) / 1e6
                        finish = "length" if _get(chunk, "done_reason", "stop") == "length" else "stop"
            finally:
                # typed as an Iterator, it is a generator: closing it ends the HTTP stream at once
                close = getattr(response, "close", None)
                if close is not None:
                    close()
        except ollama.ResponseError as exc:
            server = f"the Ollama server at {self._host}"
            if exc.status_code == 404:
                raise ModelNotFound(f"{server} has no model {self._spec.remote_model!r}") from None
            raise BackendUnavailable(f"{server} answered {exc.status_code}: {exc.error}") from None
        except (ConnectionError, httpx.TransportError) as exc:
            raise BackendUnavailable(
                f"the Ollama server at {self._host} is not answering ({exc.__class__.__name__})") from None
        yield BackendDone(finish, produced, prompt_tokens)
