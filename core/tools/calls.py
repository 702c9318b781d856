"""Function calling by constrained JSON: a JSON Schema admitting exactly one call of one offered function (or, when
allowed, a plain reply), the instructions that tell the model about the functions, and the parser of its output.

It never runs anything. The caller decides what a call leads to: the API server hands it back to its client (client-side
function calling, as OpenAI does); the tool-calling loop (`loop.py`) constrains its proposals with `call_schema` and
hands each call to the ToolRunner, which asks the permission broker before anything runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import PromptError

NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_FUNCTIONS = 128
REPLY = "reply"  # the key of the "no call, just answer" alternative


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]


def function_spec(name: Any, description: Any = "", parameters: Any = None) -> FunctionSpec:
    """Check one function definition from an untrusted request; raise PromptError naming what is wrong."""
    if not isinstance(name, str) or not NAME.match(name):
        raise PromptError(f"function name {name!r} must be 1-64 letters, digits, '_' or '-'")
    if description is not None and not isinstance(description, str):
        raise PromptError(f"function {name!r}: description must be a string")
    if parameters is None:
        parameters = {"type": "object", "properties": {}}
    if not isinstance(parameters, dict):
        raise PromptError(f"function {name!r}: parameters must be a JSON Schema object")
    return FunctionSpec(name, description or "", parameters)


def call_schema(functions: Sequence[FunctionSpec], *, allow_reply: bool) -> dict[str, Any]:
    """The JSON Schema of one call: {"name": <one of the functions>, "arguments": <its parameters>}, or, with
    allow_reply, also {"reply": "<text>"} so the model may answer without calling anything."""
    if not functions:
        raise PromptError("no functions to call")
    if len(functions) > MAX_FUNCTIONS:
        raise PromptError(f"{len(functions)} functions offered; the limit is {MAX_FUNCTIONS}")
    options: list[dict[str, Any]] = [
        {"type": "object", "properties": {"name": {"const": f.name}, "arguments": f.parameters},
         "required": ["name", "arguments"], "additionalProperties": False}
        for f in functions
    ]
    if allow_reply:
        options.append({"type": "object", "properties": {REPLY: {"type": "string"}}, "required": [REPLY],
                        "additionalProperties": False})
    return options[0] if len(options) == 1 else {"anyOf": options}


def instructions(functions: Sequence[FunctionSpec], *, allow_reply: bool) -> str:
    """System-prompt text describing the functions and the expected JSON (the grammar enforces the shape; this
    tells the model what the fields mean)."""
    lines = ["You can call these functions:"]
    for f in functions:
        lines.append(f"- {f.name}: {f.description or 'no description'}; arguments schema: "
                     f"{json.dumps(f.parameters, ensure_ascii=False)}")
    lines.append('To call one, answer only with JSON of the form {"name": ..., "arguments": {...}}, the arguments '
                 "following the function's schema.")
    if allow_reply:
        lines.append(f'Only if none of the functions fits the request, answer with JSON of the form '
                     f'{{"{REPLY}": ...}} holding your answer as text.')
    return "\n".join(lines)


def parse_call(text: str) -> ToolCall | str | None:
    """The constrained output as a ToolCall, or the reply text, or None when it is not a complete call (cut off)."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, dict) and isinstance(value.get("name"), str) and isinstance(value.get("arguments"), dict):
        return ToolCall(value["name"], value["arguments"])
    if isinstance(value, dict) and isinstance(value.get(REPLY), str):
        return value[REPLY]
    return None
