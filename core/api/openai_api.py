"""The OpenAI-compatible routes: /v1/chat/completions, /v1/completions, /v1/models, /v1/embeddings."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from ..engine import AskOptions
from ..events import Done, Error, Token
from ..tools.calls import ToolCall
from . import function_calling
from .errors import ApiError, error_body
from .request_fields import bad, boolean, conversation, integer, max_tokens, model_id, number, read_json, stops, text
from .runner import Generation, collect_watching, start_generation
from .state import EMBEDDING_MODEL, ApiState, finish_reason

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
MAX_EMBED_INPUTS = 2048
SEED_LIMIT = 2**32 - 1


def _state(request: Request) -> ApiState:
    return request.app.state.edgemind


def sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n"


def response_schema(value: Any) -> dict[str, Any] | None:
    """`response_format` as a JSON Schema to constrain the answer with (None: free text)."""
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("type") not in ("text", "json_object", "json_schema"):
        raise bad("response_format", "'response_format' must have a 'type' of text, json_object or json_schema")
    if value["type"] == "text":
        return None
    if value["type"] == "json_object":
        return {"type": "object"}
    spec = value.get("json_schema")
    if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict):
        raise bad("response_format", "response_format json_schema needs {'name': ..., 'schema': {...}}")
    return spec["schema"]


def _sampling(body: dict[str, Any]) -> dict[str, Any]:
    return {"max_tokens": max_tokens(body, "max_completion_tokens", "max_tokens"),
            "temperature": number(body, "temperature", 0.0, 2.0), "top_p": number(body, "top_p", 0.0, 1.0),
            "seed": integer(body, "seed", 0, SEED_LIMIT), "stop": stops(body.get("stop"))}


def _stream_flags(body: dict[str, Any]) -> tuple[bool, bool]:
    integer(body, "n", 1, 1)  # one choice per request
    stream = boolean(body, "stream", False)
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise bad("stream_options", "'stream_options' must be an object")
    return stream, bool(stream and options and options.get("include_usage") is True)


async def _started(request: Request, prompt: str, options: AskOptions, stream: bool = True) -> Generation:
    return await start_generation(_state(request).runner, request.receive, prompt, options, stream)


def _usage(done: Done) -> dict[str, int]:
    m = done.metrics
    return {"prompt_tokens": m.prompt_tokens, "completion_tokens": m.tokens,
            "total_tokens": m.prompt_tokens + m.tokens}


def _mid_stream_error(path: str, event: Error) -> bytes:
    return sse(error_body(path, ApiError.from_engine(event.kind, event.message)))


# ---- chat -------------------------------------------------------------------------------------------------------
async def chat_completions(request: Request) -> Response:
    state = _state(request)
    body = await read_json(request)
    model = model_id(state.engine, body.get("model"))
    stream, include_usage = _stream_flags(body)
    system, history, prompt = conversation(body.get("messages"), state.config.caps)
    plan = function_calling.plan(body.get("tools"), body.get("tool_choice"))
    schema = plan.schema if plan else response_schema(body.get("response_format"))
    options = AskOptions(model=model, system_prompt=function_calling.system_with(system, plan), history=tuple(history),
                         json_schema=schema, store=False, **_sampling(body))
    gen = await _started(request, prompt, options, stream)
    assert gen.route is not None
    base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": gen.route.model,
            "system_fingerprint": "edgemind"}

    def message_and_finish(answer_text: str, done: Done) -> tuple[dict[str, Any], str]:
        finish = finish_reason(done)
        outcome = function_calling.outcome(answer_text) if plan else None
        if isinstance(outcome, ToolCall):
            return {"role": "assistant", "content": None,
                    "tool_calls": [function_calling.openai_tool_call(outcome)]}, "tool_calls"
        return {"role": "assistant", "content": outcome if isinstance(outcome, str) else answer_text}, finish

    if not stream:
        answer = await collect_watching(gen, request.receive)
        message, finish = message_and_finish(answer.text, answer.done)
        return JSONResponse({**base, "object": "chat.completion", "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": _usage(answer.done)})

    def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return sse({**base, "object": "chat.completion.chunk", "choices": [choice]})

    async def frames() -> AsyncIterator[bytes]:
        yield chunk({"role": "assistant", "content": ""}, None)
        held: list[str] = []  # a function call is sent whole once complete: clients parse the arguments
        async for event in gen.events():
            if isinstance(event, Token):
                if plan:
                    held.append(event.text)
                else:
                    yield chunk({"content": event.text}, None)
            elif isinstance(event, Error):
                yield _mid_stream_error(request.url.path, event)
                break
            elif isinstance(event, Done):
                finish = finish_reason(event)
                if plan:
                    message, finish = message_and_finish("".join(held), event)
                    if "tool_calls" in message:
                        calls = [{"index": 0, **call} for call in message["tool_calls"]]
                        yield chunk({"tool_calls": calls}, None)
                    elif message["content"]:
                        yield chunk({"content": message["content"]}, None)
                yield chunk({}, finish)
                if include_usage:
                    yield sse({**base, "object": "chat.completion.chunk", "choices": [], "usage": _usage(event)})
        yield b"data: [DONE]\n\n"

    return StreamingResponse(frames(), media_type="text/event-stream", headers=SSE_HEADERS)


# ---- completions ------------------------------------------------------------------------------------------------
async def completions(request: Request) -> Response:
    state = _state(request)
    body = await read_json(request)
    model = model_id(state.engine, body.get("model"))
    stream, include_usage = _stream_flags(body)
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise bad("prompt", "'prompt' must be one string")
    state.config.caps.check_chars(len(prompt), "prompt")
    options = AskOptions(model=model, store=False, **_sampling(body))
    gen = await _started(request, prompt, options, stream)
    assert gen.route is not None
    base = {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion", "created": int(time.time()),
            "model": gen.route.model, "system_fingerprint": "edgemind"}
    if not stream:
        answer = await collect_watching(gen, request.receive)
        return JSONResponse({**base, "choices": [{"text": answer.text, "index": 0, "logprobs": None,
                                                  "finish_reason": finish_reason(answer.done)}],
                             "usage": _usage(answer.done)})

    def chunk(piece: str, finish: str | None) -> bytes:
        return sse({**base, "choices": [{"text": piece, "index": 0, "logprobs": None, "finish_reason": finish}]})

    async def frames() -> AsyncIterator[bytes]:
        async for event in gen.events():
            if isinstance(event, Token):
                yield chunk(event.text, None)
            elif isinstance(event, Error):
                yield _mid_stream_error(request.url.path, event)
                break
            elif isinstance(event, Done):
                yield chunk("", finish_reason(event))
                if include_usage:
                    yield sse({**base, "choices": [], "usage": _usage(event)})
        yield b"data: [DONE]\n\n"

    return StreamingResponse(frames(), media_type="text/event-stream", headers=SSE_HEADERS)


# ---- models and embeddings --------------------------------------------------------------------------------------
async def models(request: Request) -> Response:
    state = _state(request)
    specs = await run_in_threadpool(state.engine.models.list, include_ollama=False)
    names = ["auto", *(s.id for s in specs), EMBEDDING_MODEL]
    return JSONResponse({"object": "list", "data": [
        {"id": name, "object": "model", "created": state.started, "owned_by": "edgemind"} for name in names]})


def embedding_inputs(value: Any, param: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise bad(param, f"'{param}' must be a string or a non-empty list of strings (token arrays are not supported)")
    if len(value) > MAX_EMBED_INPUTS:
        raise bad(param, f"'{param}' has {len(value)} items; the limit is {MAX_EMBED_INPUTS}")
    return [text(v, param) for v in value]


def check_embedding_model(value: Any) -> None:
    if value != EMBEDDING_MODEL:
        raise ApiError(404, f"unknown embedding model {value!r}; the local one is {EMBEDDING_MODEL!r}",
                       "model_not_found", param="model")


async def embeddings(request: Request) -> Response:
    state = _state(request)
    body = await read_json(request)
    check_embedding_model(body.get("model"))
    inputs = embedding_inputs(body.get("input"), "input")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise bad("encoding_format", "'encoding_format' must be float or base64")
    if integer(body, "dimensions", 1, 100_000) not in (None, 384):
        raise bad("dimensions", f"{EMBEDDING_MODEL} gives 384 dimensions")

    def run() -> tuple[Any, int]:
        embedder = state.embedder()
        return embedder.embed(inputs), sum(len(e.ids) for e in embedder.tokenize(inputs))

    vectors, tokens = await run_in_threadpool(run)
    data = [{"object": "embedding", "index": i,
             "embedding": base64.b64encode(v.astype("<f4").tobytes()).decode() if encoding == "base64"
             else [float(x) for x in v]} for i, v in enumerate(vectors)]
    return JSONResponse({"object": "list", "data": data, "model": EMBEDDING_MODEL,
                         "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
