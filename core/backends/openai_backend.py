"""The OpenAI-compatible backend: vLLM, llama.cpp server, LM Studio, a cluster, through the official client.

This is how a user who outgrows one laptop points EdgeMind at an existing server instead of a home-made one.
"""

from __future__ import annotations

from typing import Any

from ..errors import BackendUnavailable, ModelNotFound
from ..events import BackendDone
from ..models.manifest import ModelSpec
from .base import CancelToken, ChunkStream, GenerationParams, Message


class OpenAIBackend:
    name = "openai"

    def __init__(self, spec: ModelSpec, *, timeout: float = 60.0, **_: Any) -> None:
        self._spec = spec
        self._url = spec.endpoint or ""
        import openai  # here and in stream(), not at the top: the client costs ~0.5 s at every start otherwise

        # Local servers often need no key; the client insists on a non-empty one.
        self._client = openai.OpenAI(base_url=self._url, api_key=spec.api_key or "no-key", max_retries=0,
                                     timeout=timeout)

    def take_load_ms(self) -> float:
        return 0.0

    def context_window(self) -> int | None:
        return self._spec.context_length or None

    def count_tokens(self, messages: list[Message]) -> int | None:
        return None

    def stream(self, messages: list[Message], params: GenerationParams, cancel: CancelToken) -> ChunkStream:
        import openai

        produced, prompt_tokens, finish = 0, 0, "length"
        try:
            # one dict: the SDK's overloads type each message by its role, and ours come as plain strings
            request: dict[str, Any] = {
                "model": self._spec.remote_model or "",
                "messages": [{"role": m.role, "content": m.content} for m in messages],
                "stream": True, "stream_options": {"include_usage": True}, "max_tokens": params.max_tokens,
                "temperature": params.temperature, "top_p": params.top_p, "seed": params.seed,
                "stop": list(params.stop) or None,
            }
            if params.json_schema is not None:
                request["response_format"] = {"type": "json_schema", "json_schema": {
                    "name": "answer", "schema": params.json_schema, "strict": True}}
            stream = self._client.chat.completions.create(**request)
            try:
                for chunk in stream:
                    if cancel.cancelled:
                        finish = "cancelled"
                        break
                    if chunk.usage is not None:
                        produced = chunk.usage.completion_tokens or produced
                        prompt_tokens = chunk.usage.prompt_tokens or 0
                    for choice in chunk.choices:
                        if choice.delta and choice.delta.content:
                            produced += 1 if chunk.usage is None else 0
                            yield choice.delta.content
                        if choice.finish_reason:
                            finish = "length" if choice.finish_reason == "length" else "stop"
            finally:
                stream.close()
        except openai.AuthenticationError:
            raise BackendUnavailable(f"the server at {self._url} rejected the API key (401)") from None
        except openai.NotFoundError:
            raise ModelNotFound(f"the server at {self._url} has no model {self._spec.remote_model!r}") from None
        except openai.APIConnectionError:
            raise BackendUnavailable(f"the OpenAI-compatible server at {self._url} is not answering") from None
        except openai.APIStatusError as exc:
            raise BackendUnavailable(f"the server at {self._url} answered {exc.status_code}: {exc.message}") from None
        yield BackendDone(finish, produced, prompt_tokens)
