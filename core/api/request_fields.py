"""Reading and checking the fields of an untrusted request body; every failure is a 400 naming the field."""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.requests import Request

from ..backends.base import Message
from ..engine import Engine
from .errors import ApiError
from .json_body import check_tree, parse_body
from .limits import RequestCaps

MAX_TOKENS_LIMIT = 131_072
MAX_STOPS = 8
ROLES = {"system", "developer", "user", "assistant", "tool"}


def bad(param: str, message: str) -> ApiError:
    return ApiError(400, message, "invalid_value", param=param)


async def read_json(request: Request) -> dict[str, Any]:
    raw = await request.body()  # the guard's receive wrapper raises BodyTooLarge (413) past the limit
    return parse_body(raw)


def integer(body: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad(name, f"'{name}' must be an integer")
    if not low <= value <= high:
        raise bad(name, f"'{name}' must be from {low} to {high:,}; got {value}")
    return value


def number(body: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad(name, f"'{name}' must be a number")
    if not low <= value <= high:
        raise bad(name, f"'{name}' must be from {low} to {high}; got {value}")
    return float(value)


def boolean(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad(name, f"'{name}' must be true or false")
    return value


def max_tokens(body: dict[str, Any], *names: str) -> int | None:
    for name in names:
        value = integer(body, name, 1, MAX_TOKENS_LIMIT)
        if value is not None:
            return value
    return None


def stops(value: Any, name: str = "stop") -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value) or len(value) > MAX_STOPS:
        raise bad(name, f"'{name}' must be a string or a list of at most {MAX_STOPS} strings")
    return tuple(s for s in value if s)


def text(value: Any, where: str) -> str:
    """Message content: a string, or a list of text parts (OpenAI's content-parts form)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, list):
        pieces = []
        for part in value:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise bad(where, f"{where}: only text content is supported, not {kind!r}")
            pieces.append(part["text"])
        return "".join(pieces)
    raise bad(where, f"{where} must be a string or a list of text parts")


def model_id(engine: Engine, value: Any, param: str = "model") -> str | None:
    """The requested model's id, or None for "auto" (the router chooses). Unknown models are a 404."""
    if not isinstance(value, str) or not value.strip():
        raise bad(param, f"'{param}' is required: a model id from /v1/models, or \"auto\"")
    if value == "auto":
        return None
    return engine.models.get(value).id  # ModelNotFound -> 404 through the app's handler


def conversation(raw: Any, caps: RequestCaps) -> tuple[str | None, list[Message], str]:
    """(system prompt, earlier turns, the prompt) from a chat request's messages, within `caps` (checked before
    any message is read). Tool calls and results from an earlier round of client-side function calling become plain
    text turns the model can read; a malformed call is a 400, never skipped."""
    if not isinstance(raw, list) or not raw:
        raise bad("messages", "'messages' must be a non-empty list")
    caps.check_messages(len(raw))
    system: list[str] = []
    turns: list[Message] = []
    chars = 0
    for i, m in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise bad("messages", f"{where} needs a 'role' of {', '.join(sorted(ROLES))}")
        role, content = m["role"], text(m.get("content"), f"{where}.content")
        chars += len(content)
        caps.check_chars(chars, "messages")
        if role in ("system", "developer"):
            system.append(content)
        elif role == "tool":
            name = m.get("name") or m.get("tool_name") or m.get("tool_call_id") or "the function"
            turns.append(Message("user", f"Result of {name}: {content}"))
        elif role == "assistant" and m.get("tool_calls") is not None:
            rendered = [json.dumps(call, ensure_ascii=False) for call in tool_calls(m["tool_calls"], where)]
            turns.append(Message("assistant", "\n".join([content, *rendered]).strip()))
        else:
            turns.append(Message(role, content))
    if not turns or turns[-1].role != "user":
        raise bad("messages", "the last message must be from the user (or a tool result)")
    return ("\n\n".join(system) or None), turns[:-1], turns[-1].content


def tool_calls(value: Any, where: str) -> list[dict[str, Any]]:
    """An assistant message's `tool_calls` (OpenAI: arguments as a JSON string; Ollama: as an object), each as
    {"name", "arguments"}; anything else is a 400 naming the call."""
    if not isinstance(value, list):
        raise bad("messages", f"{where}.tool_calls must be a list of calls")
    calls = []
    for j, call in enumerate(value):
        at = f"{where}.tool_calls[{j}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            raise bad("messages", f"{at} must be {{\"type\": \"function\", \"function\": {{\"name\": ..., "
                                  "\"arguments\": ...}}")
        if call.get("type", "function") != "function":
            raise bad("messages", f"{at}.type must be \"function\"")
        name = function.get("name")
        if not isinstance(name, str) or not name.strip():
            raise bad("messages", f"{at}.function.name must be a non-empty string")
        calls.append({"name": name, "arguments": _arguments(function.get("arguments", {}), at)})
    return calls


def _arguments(value: Any, at: str) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except (ValueError, RecursionError):
            raise bad("messages", f"{at}.function.arguments is not valid JSON") from None
        check_tree(value)  # the string held JSON of its own: the same bounds as the body
    if not isinstance(value, dict):
        raise bad("messages", f"{at}.function.arguments must be a JSON object (or a string holding one)")
    return value
