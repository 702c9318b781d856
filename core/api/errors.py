"""Errors in each API's own format: OpenAI `{"error": {"message", "type", "param", "code"}}` under /v1 and
elsewhere, Ollama `{"error": "..."}` under /api. Engine errors map to HTTP statuses here, in one table."""

from __future__ import annotations

import json
from typing import Any

from ..errors import EdgeMindError

# engine error kind -> HTTP status
STATUS_FOR_KIND = {
    "bad_prompt": 400, "model_not_found": 404, "busy": 503, "backend_unavailable": 502,
    "model": 500, "model_integrity": 500, "store": 500, "config": 500, "error": 500, "internal": 500,
}
OPENAI_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 413: "invalid_request_error", 429: "rate_limit_error", 503: "server_busy"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, *, param: str | None = None,
                 retry_after: str | None = None) -> None:
        super().__init__(" ".join(message.split()))
        self.status = status
        self.code = code
        self.param = param
        self.retry_after = retry_after

    @property
    def message(self) -> str:
        return str(self)

    @classmethod
    def from_engine(cls, kind: str, message: str, retry_after: int = 2) -> ApiError:
        status = STATUS_FOR_KIND.get(kind, 500)
        return cls(status, message, kind, retry_after=str(retry_after) if status == 503 else None)

    @classmethod
    def from_exception(cls, exc: EdgeMindError) -> ApiError:
        return cls.from_engine(exc.kind, str(exc))


def is_ollama_path(path: str) -> bool:
    return path.startswith("/api/")


def error_body(path: str, error: ApiError) -> dict[str, Any]:
    if is_ollama_path(path):
        return {"error": error.message}
    kind = OPENAI_TYPES.get(error.status, "server_error" if error.status >= 500 else "invalid_request_error")
    return {"error": {"message": error.message, "type": kind, "param": error.param, "code": error.code}}


def error_response_parts(path: str, error: ApiError) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, headers, body) for a plain ASGI send: used by the guard middleware and the routes alike."""
    body = json.dumps(error_body(path, error)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if error.retry_after:
        headers.append((b"retry-after", error.retry_after.encode()))
    return error.status, headers, body
