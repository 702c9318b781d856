"""The Ollama-compatible routes: /api/chat, /api/generate (NDJSON streaming), /api/tags, /api/embed,
/api/version, /api/show. Ollama streams unless the request says `"stream": false`."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from .. import __version__
from ..engine import AskOptions
from ..events import Done, Error, Token
from ..tools.calls import ToolCall
from . import function_calling
from .openai_api import check_embedding_model, embedding_inputs
from .request_fields import bad, boolean, conversation, integer, model_id, number, read_json, stops
from .runner import Generation, collect_watching, start_generation
from .state import EMBEDDING_MODEL, ApiState, finish_reason

NDJSON = "application/x-ndjson"


def _state(request: Request) -> ApiState:
    return request.app.state.edgemind


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _line(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode() + b"\n"


def _format_schema(value: Any) -> dict[str, Any] | None:
    """Ollama's `format`: "json" (any JSON object) or a JSON Schema."""
    if value in (None, ""):
        return None
    if value == "json":
        return {"type": "object"}
    if isinstance(value, dict):
        return value
    raise bad("format", "'format' must be \"json\" or a JSON Schema object")


def _options(body: dict[str, Any]) -> dict[str, Any]:
    opts = body.get("options") or {}
    if not isinstance(opts, dict):
        raise bad("options", "'options' must be an object")
    num_predict = opts.get("num_predict")
    # Ollama: -1 = no limit, -2 = fill the context; both mean "up to the configured maximum" here.
    limit = None if isinstance(num_predict, int) and not isinstance(num_predict, bool) and num_predict in (-1, -2) \
        else integer(opts, "num_predict", 1, 131_072)
    return {"max_tokens": limit, "temperature": number(opts, "temperature", 0.0, 2.0),
            "top_p": number(opts, "top_p", 0.0, 1.0), "seed": integer(opts, "seed", 0, 2**32 - 1),
            "stop": stops(opts.get("stop"), "options.stop")}


async def _started(request: Request, prompt: str, options: AskOptions, stream: bool = True) -> Generation:
    return await start_generation(_state(request).runner, request.receive, prompt, options, stream)


def _timings(done: Done) -> dict[str, Any]:
    m = done.metrics
    ns = 1_000_000
    return {"total_duration": int(m.total_ms * ns), "load_duration": int(m.load_ms * ns),
            "prompt_eval_count": m.prompt_tokens, "prompt_eval_duration": int(max(m.ttft_ms - m.load_ms, 0) * ns),
            "eval_count": m.tokens, "eval_duration": int(max(m.total_ms - m.ttft_ms, 0) * ns)}


async def _respond(request: Request, gen: Generation, stream: bool, frame: Any, final: Any) -> Response:
    """frame(text) -> one streamed object; final(text, done) -> the closing object (whole answer when not streaming)."""
    if not stream:
        answer = await collect_watching(gen, request.receive)
        return JSONResponse(final(answer.text, answer.done))

    async def lines() -> AsyncIterator[bytes]:
        held: list[str] = []
        async for event in gen.events():
            if isinstance(event, Token):
                held.append(event.text)
                piece = frame(event.text)
                if piece is not None:
                    yield _line(piece)
            elif isinstance(event, Error):
                yield _line({"error": event.message})
                return
            elif isinstance(event, Done):
                yield _line(final("".join(held), event, streamed=True))

    return StreamingResponse(lines(), media_type=NDJSON)


async def chat(request: Request) -> Response:
    state = _state(request)
    body = await read_json(request)
    model = model_id(state.engine, body.get("model"))
    stream = boolean(body, "stream", True)
    system, history, prompt = conversation(body.get("messages"), state.config.caps)
    plan = function_calling.plan(body.get("tools"), None)
    schema = plan.schema if plan else _format_schema(body.get("format"))
    options = AskOptions(model=model, system_prompt=function_calling.system_with(system, plan),
                         history=tuple(history), json_schema=schema, store=False, **_options(body))
    gen = await _started(request, prompt, options, stream)
    name = gen.route.model if gen.route else str(body.get("model"))

    def frame(piece: str) -> dict[str, Any] | None:
        if plan:  # a call is sent whole, once complete
            return None
        return {"model": name, "created_at": _now(), "message": {"role": "assistant", "content": piece}, "done": False}

    def final(text: str, done: Done, streamed: bool = False) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": "" if streamed and not plan else text}
        outcome = function_calling.outcome(text) if plan else None
        if isinstance(outcome, ToolCall):
            message = {"role": "assistant", "content": "", "tool_calls": [function_calling.ollama_tool_call(outcome)]}
        elif isinstance(outcome, str):
            message["content"] = outcome
        return {"model": name, "created_at": _now(), "message": message, "done": True,
                "done_reason": finish_reason(done), **_timings(done)}

    return await _respond(request, gen, stream, frame, final)


async def generate(request: Request) -> Response:
    state = _state(request)
    body = await read_json(request)
    model = model_id(state.engine, body.get("model"))
    stream = boolean(body, "stream", True)
    prompt, system = body.get("prompt"), body.get("system")
    if not isinstance(prompt, str):
        raise bad("prompt", "'prompt' must be a string")
    if system is not None and not isinstance(system, str):
        raise bad("system", "'system' must be a string")
    state.config.caps.check_chars(len(prompt) + len(system or ""), "prompt")
    options = AskOptions(model=model, system_prompt=system or None, json_schema=_format_schema(body.get("format")),
                         store=False, **_options(body))
    gen = await _started(request, prompt, options, stream)
    name = gen.route.model if gen.route else str(body.get("model"))

    def frame(piece: str) -> dict[str, Any]:
        return {"model": name, "created_at": _now(), "response": piece, "done": False}

    def final(text: str, done: Done, streamed: bool = False) -> dict[str, Any]:
        return {"model": name, "created_at": _now(), "response": "" if streamed else text, "done": True,
                "done_reason": finish_reason(done), **_timings(done)}

    return await _respond(request, gen, stream, frame, final)


def _tag(state: ApiState, spec: Any) -> dict[str, Any]:
    modified = datetime.fromtimestamp(state.started, UTC).isoformat().replace("+00:00", "Z")
    digest = spec.sha256 or hashlib.sha256(spec.id.encode()).hexdigest()
    return {"name": spec.id, "model": spec.id, "modified_at": modified, "size": spec.size_bytes or 0,
            "digest": digest, "details": {"parent_model": "", "format": "gguf" if spec.backend == "llama_cpp" else "",
                                          "family": spec.family, "families": [spec.family] if spec.family else None,
                                          "parameter_size": "", "quantization_level": ""}}


async def tags(request: Request) -> Response:
    state = _state(request)
    specs = await run_in_threadpool(state.engine.models.list, include_ollama=False)
    return JSONResponse({"models": [_tag(state, s) for s in specs]})


async def show(request: Request) -> Response:
    state = _state(request)
    body = await read_json(request)
    name = body.get("model") or body.get("name")
    if not isinstance(name, str) or name == "auto":
        raise bad("model", "'model' must name a model from /api/tags")
    spec = state.engine.models.get(name)
    tag = _tag(state, spec)
    return JSONResponse({"modelfile": "", "parameters": "", "template": "", "details": tag["details"],
                         "model_info": {"general.architecture": spec.family or "unknown",
                                        "general.context_length": spec.context_length},
                         "capabilities": ["completion", "tools"], "modified_at": tag["modified_at"]})


async def version(request: Request) -> Response:
    return JSONResponse({"version": __version__})


async def embed(request: Request) -> Response:
    state = _state(request)
    body = await read_json(request)
    check_embedding_model(body.get("model"))
    inputs = embedding_inputs(body.get("input"), "input")
    started = time.perf_counter_ns()

    def run() -> tuple[Any, int]:
        embedder = state.embedder()
        return embedder.embed(inputs), sum(len(e.ids) for e in embedder.tokenize(inputs))

    vectors, tokens = await run_in_threadpool(run)
    return JSONResponse({"model": EMBEDDING_MODEL, "embeddings": [[float(x) for x in v] for v in vectors],
                         "total_duration": time.perf_counter_ns() - started, "load_duration": 0,
                         "prompt_eval_count": tokens})

