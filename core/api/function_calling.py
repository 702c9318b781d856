"""Client-side function calling for both APIs: the request's `tools` become a constrained-output schema and
instructions; the model's JSON becomes `tool_calls` returned to the client, which runs them itself.

Seam for EdgeMind's own tools: none of them ever runs through the API. If server-side tools are added, they go
through the permission broker (issue 5) with a decider that refuses every ungranted scope, here, before `plan`
returns; nothing in this module executes a call.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from ..errors import PromptError
from ..tools.calls import FunctionSpec, ToolCall, call_schema, function_spec, instructions, parse_call
from .errors import ApiError


@dataclass(frozen=True, slots=True)
class FunctionPlan:
    schema: dict[str, Any]
    instructions: str


def plan(tools: Any, tool_choice: Any) -> FunctionPlan | None:
    """None when no function may be called (no tools, or tool_choice "none"). An invalid `tool_choice` is a 400
    even without tools (a client that asked for a call must not get a plain answer as if it had not)."""
    if tools is not None and not isinstance(tools, list):
        raise ApiError(400, "'tools' must be a list", "invalid_value", param="tools")
    try:
        functions = [_function(t, i) for i, t in enumerate(tools or [])]
    except PromptError as exc:
        raise ApiError(400, str(exc), "invalid_value", param="tools") from None
    choice, named = _choice(tool_choice)
    if choice in ("required", "function") and not functions:
        raise ApiError(400, "'tool_choice' asks for a function call, but the request has no 'tools'",
                       "invalid_value", param="tool_choice")
    if not functions or choice == "none":
        return None
    allow_reply = choice == "auto"
    if choice == "function":
        functions = [f for f in functions if f.name == named]
        if not functions:
            raise ApiError(400, f"tool_choice names {named!r}, which is not among the tools", "invalid_value",
                           param="tool_choice")
    try:
        schema = call_schema(functions, allow_reply=allow_reply)
    except PromptError as exc:
        raise ApiError(400, str(exc), "invalid_value", param="tools") from None
    return FunctionPlan(schema, instructions(functions, allow_reply=allow_reply))


def _choice(value: Any) -> tuple[str, str | None]:
    """("none" | "auto" | "required", None), or ("function", the name of the one function that must be called)."""
    if value is None:
        return "auto", None
    if value in ("none", "auto", "required"):
        return str(value), None
    if isinstance(value, dict) and value.get("type") == "function" and isinstance(value.get("function"), dict):
        name = value["function"].get("name")
        if isinstance(name, str) and name:
            return "function", name
    raise ApiError(400, "'tool_choice' must be \"none\", \"auto\", \"required\" or "
                        "{\"type\": \"function\", \"function\": {\"name\": ...}}", "invalid_value",
                   param="tool_choice")


def _function(tool: Any, index: int) -> FunctionSpec:
    if not isinstance(tool, dict) or tool.get("type", "function") != "function" or not isinstance(
            tool.get("function"), dict):
        raise PromptError(f"tools[{index}] must be {{\"type\": \"function\", \"function\": {{...}}}}")
    f = tool["function"]
    return function_spec(f.get("name"), f.get("description"), f.get("parameters"))


def outcome(text: str) -> ToolCall | str | None:
    """The model's constrained output: a call, a plain reply, or None when it was cut off before it was complete."""
    return parse_call(text)


def openai_tool_call(call: ToolCall) -> dict[str, Any]:
    return {"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
            "function": {"name": call.name, "arguments": json.dumps(call.arguments, ensure_ascii=False)}}


def ollama_tool_call(call: ToolCall) -> dict[str, Any]:
    return {"function": {"name": call.name, "arguments": call.arguments}}


def system_with(system: str | None, plan_: FunctionPlan | None) -> str | None:
    if plan_ is None:
        return system
    return "\n\n".join(p for p in (system, plan_.instructions) if p)
