"""Builds the Starlette application: routes, the guard in front of them, errors in each API's format."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..embeddings.embedder import embeddings_cache_dir, shared_embedder
from ..engine import Engine
from ..errors import EdgeMindError
from . import ollama_api, openai_api
from .config import ServerConfig
from .errors import ApiError, error_body
from .guard import Guard
from .metrics import ServerMetrics
from .runner import Runner
from .state import ApiState

log = logging.getLogger(__name__)


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def metrics(request: Request) -> Response:
    state: ApiState = request.app.state.edgemind
    return PlainTextResponse(state.metrics.render(state.engine.models.waiting),
                             media_type="text/plain; version=0.0.4; charset=utf-8")


def _json_error(request: Request, error: ApiError) -> JSONResponse:
    headers = {"Retry-After": error.retry_after} if error.retry_after else None
    return JSONResponse(error_body(request.url.path, error), status_code=error.status, headers=headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _json_error(request, exc)


async def _engine_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, EdgeMindError)
    return _json_error(request, ApiError.from_exception(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {404: f"no route {request.method} {request.url.path}",
               405: f"{request.method} is not allowed on {request.url.path}"}.get(exc.status_code, str(exc.detail))
    return _json_error(request, ApiError(exc.status_code, message, "not_found" if exc.status_code == 404 else None))


async def _internal_error(request: Request, exc: Exception) -> Response:
    # The traceback goes to the server log (Starlette re-raises to uvicorn); the client gets one line.
    return _json_error(request, ApiError(500, f"internal error: {exc.__class__.__name__}", "internal"))


def create_app(engine: Engine, config: ServerConfig, *, embedder: Callable[[], Any] | None = None) -> Guard:
    """The ASGI application `edgemind serve` runs (tests run the same one on a free loopback port)."""
    metrics_ = ServerMetrics()
    state = ApiState(
        engine=engine, config=config, metrics=metrics_,
        runner=Runner(engine, metrics_, config.max_in_flight, config.retry_after_seconds),
        embedder=embedder or (lambda: shared_embedder(embeddings_cache_dir(engine.settings))),
    )
    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/v1/chat/completions", openai_api.chat_completions, methods=["POST"]),
        Route("/v1/completions", openai_api.completions, methods=["POST"]),
        Route("/v1/models", openai_api.models, methods=["GET"]),
        Route("/v1/embeddings", openai_api.embeddings, methods=["POST"]),
        Route("/api/chat", ollama_api.chat, methods=["POST"]),
        Route("/api/generate", ollama_api.generate, methods=["POST"]),
        Route("/api/tags", ollama_api.tags, methods=["GET"]),
        Route("/api/embed", ollama_api.embed, methods=["POST"]),
        Route("/api/version", ollama_api.version, methods=["GET"]),
        Route("/api/show", ollama_api.show, methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={
        ApiError: _api_error, EdgeMindError: _engine_error, HTTPException: _http_error, Exception: _internal_error,
    })
    app.state.edgemind = state
    return Guard(app, config, metrics_)
