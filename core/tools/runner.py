"""The one place a tool function is ever called: arguments checked, red lines applied, scopes granted, limits kept.

Order matters: schema -> red lines -> scopes (canonical paths, hosts) -> broker -> rate limit -> run with a
timeout -> audit. The tool receives the canonical paths that were checked, not the strings the model wrote.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from ..errors import EdgeMindError
from ..events import Citation
from ..storage.audit import AuditLog, digest
from .citations import Sourced
from .permissions import Decision, PermissionBroker
from .registry import PermissionDenied, Tool, ToolError, ToolRegistry
from .scopes import Scope, ScopeError, need_host, need_path, parse_scope

MAX_RESULT_CHARS = 6_000  # ~2k tokens: results go back into a small model's 4k context
MAX_ARGS_CHARS = 200_000


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """What happened to one proposed call; `content` is what goes back to the model (as untrusted data)."""

    tool: str
    arguments: dict[str, Any]
    decision: str  # allowed:<how> | denied:<how> | rejected | dry_run | error
    ok: bool
    content: str
    scopes: tuple[str, ...] = ()
    result_sha: str | None = None
    duration_ms: float = 0.0
    sources: tuple[Citation, ...] = ()  # where the result came from (a docs_search's files), for the shell's links

    @property
    def summary(self) -> str:
        first = " ".join(self.content.split())
        return first[:160] + ("…" if len(first) > 160 else "")

    def as_dict(self) -> dict[str, Any]:
        out = {"tool": self.tool, "arguments": self.arguments, "decision": self.decision, "ok": self.ok,
               "scopes": list(self.scopes), "result_summary": self.summary, "result_sha256": self.result_sha,
               "duration_ms": round(self.duration_ms, 1)}
        if self.sources:  # kept with the message, so a reopened answer links its sources again
            out["sources"] = [{"path": c.path, "start_line": c.start_line, "end_line": c.end_line, "label": c.label,
                               "page": c.page} for c in self.sources]
        return out


@dataclass(slots=True)
class _RateWindow:
    calls: deque[float] = field(default_factory=deque)


def needed_scopes(tool: Tool, args: dict[str, Any]) -> tuple[list[Scope], dict[str, Any]]:
    """The concrete scopes a call needs, and the arguments with scope-bearing paths replaced by their real paths."""
    out: list[Scope] = []
    args = dict(args)
    for template in tool.manifest.scopes:
        kind, _, target = template.partition(":")
        if target.startswith("{") and target.endswith("}"):
            arg = target[1:-1]
            value = args.get(arg)
            if not isinstance(value, str):
                raise ToolError(f"{tool.name}: argument {arg!r} must be a string")
            if kind == "net":
                out.append(need_host(value))
            else:
                scope = need_path(kind, value)
                args[arg] = scope.target
                out.append(scope)
        else:
            out.append(parse_scope(template))
    return out, args


def render_result(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str, indent=1)
    if len(text) > MAX_RESULT_CHARS:
        text = text[:MAX_RESULT_CHARS] + f"\n[... truncated: {len(text) - MAX_RESULT_CHARS} more characters]"
    return text


class ToolRunner:
    def __init__(self, registry: ToolRegistry, broker: PermissionBroker, audit: AuditLog,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = registry
        self.broker = broker
        self._audit = audit
        self._clock = clock
        self._windows: dict[str, _RateWindow] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Stop what the tools hold open (MCP servers); a closed runner's MCP tools start their servers again."""
        self.registry.close()

    def check(self, name: str, arguments: Any) -> tuple[Tool, dict[str, Any], list[Scope]]:
        """Validate a proposed call without running it: ToolError names the first problem."""
        tool = self.registry.get(name)
        if not isinstance(arguments, dict):
            raise ToolError(f"{name}: arguments must be a JSON object")
        if len(json.dumps(arguments, default=str)) > MAX_ARGS_CHARS:
            raise ToolError(f"{name}: arguments larger than {MAX_ARGS_CHARS} characters")
        schema = dict(tool.manifest.parameters)
        schema.setdefault("additionalProperties", False)
        try:
            jsonschema.validate(arguments, schema)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "arguments"
            raise ToolError(f"{name}: {where}: {exc.message}") from None
        for arg, patterns in tool.manifest.red_lines.items():
            value = arguments.get(arg)
            if value is None:
                continue
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            for pattern in patterns:
                if re.search(pattern, text, re.IGNORECASE):
                    raise ToolError(f"{name}: argument {arg!r} crosses a red line ({pattern})")
        try:
            scopes, canonical = needed_scopes(tool, arguments)
        except ScopeError as exc:
            raise ToolError(f"{name}: {exc}") from None
        # red lines apply to the real path too: a symlink named notes.txt may point at ~/.ssh/id_rsa
        for arg, patterns in tool.manifest.red_lines.items():
            if canonical.get(arg) != arguments.get(arg) and isinstance(canonical.get(arg), str):
                for pattern in patterns:
                    if re.search(pattern, canonical[arg], re.IGNORECASE):
                        raise ToolError(f"{name}: argument {arg!r} resolves past a red line ({pattern})")
        return tool, canonical, scopes

    def call(self, name: str, arguments: Any, *, conversation_id: str | None = None,
             dry_run: bool = False) -> ToolOutcome:
        args_for_log = arguments if isinstance(arguments, dict) else {"_": arguments}
        self._audit.record("tool_proposed", {"arguments_sha": digest(args_for_log), "dry_run": dry_run,
                                             "argument_names": sorted(args_for_log)[:20]},
                           conversation_id=conversation_id, tool=name[:200] if isinstance(name, str) else None)
        try:
            tool, args, scopes = self.check(name, arguments)
        except EdgeMindError as exc:
            self._audit.record("tool_error", {"stage": "check", "error": str(exc)[:300]},
                               conversation_id=conversation_id, tool=str(name)[:200])
            return ToolOutcome(str(name), args_for_log, "rejected", False, f"error: {exc}")
        scope_names = tuple(str(s) for s in scopes)
        if dry_run:
            return self._dry_run(tool, args, scopes, conversation_id)
        decision = self.broker.decide(tool, scopes, args, conversation_id)
        if not decision.allowed:
            return ToolOutcome(tool.name, args, f"denied:{decision.how}", False,
                               f"error: permission denied for {tool.name} ({', '.join(scope_names) or 'no scope'})",
                               scope_names)
        try:
            self._take_rate_slot(tool)
        except ToolError as exc:
            self._audit.record("tool_error", {"stage": "rate_limit", "error": str(exc)},
                               conversation_id=conversation_id, tool=tool.name)
            return ToolOutcome(tool.name, args, f"allowed:{decision.how}", False, f"error: {exc}", scope_names)
        self._audit.record("tool_call", {"arguments_sha": digest(args), "scopes": list(scope_names),
                                         "how": decision.how}, conversation_id=conversation_id, tool=tool.name)
        started = time.perf_counter()
        sources: tuple[Citation, ...] = ()
        try:
            value = self._run_with_timeout(tool, args)
            if isinstance(value, Sourced):  # the model sees the value; the citations go to the shell only
                value, sources = value.value, tuple(s for s in value.sources if isinstance(s, Citation))
            content = render_result(value)
            ok = True
        except EdgeMindError as exc:
            content, ok = f"error: {exc}", False
        except Exception as exc:  # a plugin bug is reported, not raised through the engine
            content, ok = f"error: {tool.name} failed: {type(exc).__name__}: {exc}", False
        ms = (time.perf_counter() - started) * 1000
        sha = digest(content)
        self._audit.record("tool_result" if ok else "tool_error",
                           {"result_sha": sha, "chars": len(content), "ok": ok, "duration_ms": round(ms, 1)},
                           conversation_id=conversation_id, tool=tool.name)
        return ToolOutcome(tool.name, args, f"allowed:{decision.how}", ok, content, scope_names, sha, ms, sources)

    def authorize(self, name: str, arguments: Any, *, ask: bool = True) -> tuple[Decision, dict[str, Any]]:
        """Decide a call a shell runs itself (the Documents page indexes a folder with progress and cancel), exactly
        as `call` would: the same checks, the same broker question (`ask`) and audit. Returns the decision and the
        checked arguments (canonical paths), which are what the shell must use. `ask=False` only looks: a grant
        held now (stored or for this session), never a question."""
        tool, args, scopes = self.check(name, arguments)
        if ask:
            decision = self.broker.decide(tool, scopes, args)
        else:
            how = self.broker.is_granted(tool, scopes)
            decision = Decision(how is not None, how or "not_granted", tuple(str(s) for s in scopes))
        if decision.allowed:
            self._audit.record("tool_call", {"arguments_sha": digest(args), "scopes": list(decision.scopes),
                                             "how": decision.how, "run_by": "shell"}, tool=tool.name)
        return decision, args

    def _dry_run(self, tool: Tool, args: dict[str, Any], scopes: list[Scope],
                 conversation_id: str | None) -> ToolOutcome:
        granted = self.broker.is_granted(tool, scopes)
        lines = [f"would call {tool.name} with {json.dumps(args, ensure_ascii=False, default=str)}",
                 f"needs: {', '.join(str(s) for s in scopes) or 'no scope'}",
                 f"granted now: {granted or 'no (the user would be asked)'}"]
        # A tool's own preview runs only under a grant: it may look at its target to describe the effect.
        if tool.manifest.dry_run and granted is not None:
            try:
                lines.append(render_result(tool.function(**args, dry_run=True)))
            except Exception as exc:
                lines.append(f"preview failed: {exc}")
        self._audit.record("dry_run", {"arguments_sha": digest(args), "scopes": [str(s) for s in scopes],
                                       "granted": granted}, conversation_id=conversation_id, tool=tool.name)
        return ToolOutcome(tool.name, args, "dry_run", True, "\n".join(lines), tuple(str(s) for s in scopes))

    def _take_rate_slot(self, tool: Tool) -> None:
        now = self._clock()
        with self._lock:
            window = self._windows.setdefault(tool.name, _RateWindow())
            while window.calls and now - window.calls[0] >= 60.0:
                window.calls.popleft()
            if len(window.calls) >= tool.manifest.rate_limit_per_min:
                raise ToolError(f"{tool.name}: rate limit of {tool.manifest.rate_limit_per_min} calls a minute reached")
            window.calls.append(now)

    @staticmethod
    def _run_with_timeout(tool: Tool, args: dict[str, Any]) -> Any:
        """Run in a daemon thread so a stuck tool cannot hang the engine (tools that run code use a process)."""
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["value"] = tool.function(**args)
            except BaseException as exc:  # carried back to the caller's thread
                box["error"] = exc

        thread = threading.Thread(target=target, name=f"tool-{tool.name}", daemon=True)
        thread.start()
        thread.join(tool.manifest.timeout_s)
        if thread.is_alive():
            raise ToolError(f"{tool.name} took longer than {tool.manifest.timeout_s:g} s and was abandoned")
        if "error" in box:
            raise box["error"]
        return box.get("value")


def ensure_granted(outcome: ToolOutcome) -> ToolOutcome:
    """For callers that want an exception (the CLI's `tools run`): PermissionDenied on a denied call."""
    if outcome.decision.startswith("denied"):
        raise PermissionDenied(outcome.content.removeprefix("error: "))
    return outcome
