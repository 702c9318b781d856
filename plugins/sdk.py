"""The whole plugin surface in one file: `@tool`, the manifest, the scopes, and every entry-point group (tools,
backends, live model sources) with the types a backend speaks.

A plugin is a module whose entry point (group `edgemind.plugins`) names a list of `@tool` functions, or a function
returning one. Declaring a scope asks for nothing by itself: the user grants it, per call, session or always.

    from edgemind.plugins.sdk import tool

    @tool(scopes=["fs.read:{path}"], red_lines={"path": [r"\\.env$"]})
    def count_lines(path: str) -> int:
        \"\"\"Count the lines of a text file.\"\"\"
        return sum(1 for _ in open(path, encoding="utf-8"))

    TOOLS = [count_lines]    # pyproject: [project.entry-points."edgemind.plugins"] mine = "my_plugin:TOOLS"

Every extension point is an entry-point group; a package declares entries in its pyproject.toml:

    edgemind.plugins        tools: a list of @tool functions, or a function (optionally taking a PluginContext)
                            returning one
    edgemind.backends       a backend: NAME = "pkg.module:Factory", called as Factory(spec, **options) and returning
                            a Backend (stream / count_tokens / context_window / take_load_ms); models whose
                            ModelSpec.backend is NAME run on it. Take the options you need and `**_` for the rest.
    edgemind.model_sources  a live model list: NAME = "pkg.module:SOURCE", a ModelSource (names(settings),
                            spec(settings, name)); its models get the ids "NAME:<model>"

An entry point that fails to load is skipped with one line naming it; it never stops EdgeMind.
"""

from __future__ import annotations

import hashlib
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, get_args, get_origin, get_type_hints

from edgemind.core.backends.base import Backend, CancelToken, Chunk, GenerationParams, Message
from edgemind.core.backends.registry import ENTRY_POINT_GROUP as BACKENDS_GROUP
from edgemind.core.backends.registry import MODEL_SOURCES_GROUP
from edgemind.core.events import BackendDone
from edgemind.core.models.manifest import ModelSpec
from edgemind.core.models.sources import ModelSource
from edgemind.core.tools.registry import ENTRY_POINT_GROUP, ManifestError, Tool, ToolManifest, validate_manifest
from edgemind.core.tools.scopes import SCOPE_KINDS, Scope, ScopeError

__all__ = ["tool", "Tool", "ToolManifest", "ManifestError", "Scope", "ScopeError", "SCOPE_KINDS",
           "ENTRY_POINT_GROUP", "json_schema_for",
           # backends and model sources
           "BACKENDS_GROUP", "MODEL_SOURCES_GROUP", "Backend", "BackendDone", "CancelToken", "Chunk",
           "GenerationParams", "Message", "ModelSource", "ModelSpec"]

_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _schema_for_type(hint: Any, where: str) -> dict[str, Any]:
    origin = get_origin(hint)
    if hint in _SIMPLE:
        return {"type": _SIMPLE[hint]}
    if origin is Literal:
        values = get_args(hint)
        kinds = {type(v) for v in values}
        if len(kinds) != 1 or next(iter(kinds)) not in _SIMPLE:
            raise ManifestError(f"{where}: Literal values must all be str, int, float or bool")
        return {"type": _SIMPLE[next(iter(kinds))], "enum": list(values)}
    if origin in (list, tuple, typing.Sequence) or hint in (list, tuple):
        inner = get_args(hint)
        return {"type": "array", "items": _schema_for_type(inner[0], where) if inner else {}}
    if origin in (dict, typing.Mapping) or hint is dict:
        return {"type": "object"}
    if origin in (typing.Union, types.UnionType):
        members = [a for a in get_args(hint) if a is not type(None)]
        if len(members) == 1:
            return _schema_for_type(members[0], where)
    raise ManifestError(f"{where}: type {hint!r} is not supported in a tool signature "
                        "(use str, int, float, bool, Literal, list[...] or dict)")


def json_schema_for(function: Callable[..., Any], name: str) -> dict[str, Any]:
    """JSON Schema of a function's keyword parameters from its type hints (every parameter must be typed)."""
    try:
        hints = get_type_hints(function, include_extras=False)
    except Exception as exc:
        raise ManifestError(f"tool {name!r}: cannot read type hints ({exc})") from None
    props: dict[str, Any] = {}
    required: list[str] = []
    for pname, param in inspect.signature(function).parameters.items():
        if pname == "dry_run":
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ManifestError(f"tool {name!r}: *args/**kwargs are not allowed; declare each parameter")
        if pname not in hints:
            raise ManifestError(f"tool {name!r}: parameter {pname!r} has no type hint")
        schema = _schema_for_type(hints[pname], f"tool {name!r} parameter {pname!r}")
        if param.default is inspect.Parameter.empty:
            required.append(pname)
        elif param.default is not None:
            schema["default"] = param.default
        props[pname] = schema
    return {"type": "object", "properties": props, "required": required, "additionalProperties": False}


def _code_digest(function: Callable[..., Any]) -> str:
    """Part of the manifest hash, so a tool whose code changed asks for permission again."""
    try:
        source = inspect.getsource(function).encode("utf-8")
    except (OSError, TypeError):
        source = function.__code__.co_code if hasattr(function, "__code__") else repr(function).encode()
    return hashlib.sha256(source).hexdigest()


def tool(function: Callable[..., Any] | None = None, *, name: str | None = None, description: str | None = None,
         scopes: list[str] | tuple[str, ...] = (), timeout_s: float = 30.0, rate_limit_per_min: int = 60,
         red_lines: dict[str, list[str]] | None = None, dry_run: bool = False, plugin: str | None = None,
         version: str = "1") -> Any:
    """Declare a tool. The description defaults to the docstring's first paragraph (the model reads it)."""

    def wrap(fn: Callable[..., Any]) -> Tool:
        tool_name = name or fn.__name__
        doc = inspect.getdoc(fn) or ""
        text = description or doc.split("\n\n")[0].strip()
        if dry_run and "dry_run" not in inspect.signature(fn).parameters:
            raise ManifestError(f"tool {tool_name!r} declares dry_run but takes no dry_run parameter")
        manifest = ToolManifest(
            name=tool_name, description=" ".join(text.split()),
            plugin=plugin or (fn.__module__ or "").rsplit(".", 1)[-1],
            parameters=json_schema_for(fn, tool_name), scopes=tuple(scopes), timeout_s=timeout_s,
            rate_limit_per_min=rate_limit_per_min,
            red_lines={k: tuple(v) for k, v in (red_lines or {}).items()}, dry_run=dry_run, version=version,
            code_digest=_code_digest(fn))
        validate_manifest(manifest)
        return Tool(manifest, fn)

    return wrap(function) if function is not None else wrap
