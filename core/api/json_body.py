"""Parsing an untrusted JSON request body: bounded nesting and text that is valid Unicode, or a one-line 400.

Python's parser raises RecursionError on deep nesting and keeps lone surrogates (`"\\ud800"`) that fail later, deep
in the engine (tokenizer, SQLite, the response's own encoding), as 500s. Both are refused here, before any route
looks at the body.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import ApiError

# Deeper than any real request (a tool's JSON Schema nests a few levels); far below the parser's recursion limit.
MAX_DEPTH = 64


def parse_body(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; ApiError 400 naming the problem otherwise."""
    try:
        body = json.loads(raw)
    except RecursionError:
        raise too_deep() from None
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "the request body is not valid JSON", "invalid_json") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object", "invalid_json")
    check_tree(body)
    return body


def too_deep() -> ApiError:
    return ApiError(400, f"the request body is nested more than {MAX_DEPTH} levels deep", "invalid_json")


def check_tree(body: Any) -> None:
    """Walk the parsed body once, without recursion: every container within MAX_DEPTH, every string and key valid
    UTF-8 (no lone surrogate)."""
    stack: list[tuple[Any, int, str]] = [(body, 0, "")]
    while stack:
        value, depth, where = stack.pop()
        if isinstance(value, str):
            _check_text(value, where)
        elif isinstance(value, (dict, list)):
            if depth >= MAX_DEPTH:
                raise too_deep()
            if isinstance(value, dict):
                for key, item in value.items():
                    _check_text(key, f"{where}.{key}" if where else key)
                    stack.append((item, depth + 1, f"{where}.{key}" if where else key))
            else:
                stack.extend((item, depth + 1, where) for item in value)


def _check_text(text: str, where: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        place = f" in {where!r}" if where and where.isprintable() and where.isascii() else ""
        raise ApiError(400, f"the request body has a lone surrogate (\\u{ord(text[exc.start]):04x}){place}: text "
                            "must be valid Unicode", "invalid_json") from None
