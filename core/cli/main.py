"""The `edgemind` command: thin commands that parse arguments, call the engine or registry, and print.

Contract: `--json` prints one JSON object; exit 0 on success; otherwise one line `edgemind: error: …` on stderr
and a non-zero exit (1 failure, 2 bad usage, 130 stopped by Ctrl-C). Never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, NoReturn

from ..backends.base import CancelToken
from ..backends.llama_smoke import main as native_check
from ..bench.command import add_command as add_bench_command
from ..data_folder import append_private, private_folder, secure_data_folder
from ..engine import (
    AnalyzerReport,
    AskOptions,
    CacheAdmin,
    Conversations,
    Engine,
    Finding,
    Models,
    chat_options,
    review_code,
)
from ..errors import EdgeMindError, error_for_kind
from ..events import Done, Error, Route, Token, ToolCall, ToolResult
from ..mcp.service import McpServers
from ..settings import Settings, load_settings, with_overrides
from . import arg_types
from .chat import ChatSession
from .crash_watch import last_crash, watch
from .distill_command import add_command as add_distill_command
from .doctor import format_report, run_doctor
from .interrupts import ctrl_c_cancels
from .mcp_command import add_command as add_mcp_command
from .output import EXIT_FAIL, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, print_json
from .pack_command import add_command as add_pack_command
from .presets_command import add_command as add_presets_command
from .presets_command import preset_settings
from .pull_command import add_commands as add_pull_commands
from .settings_command import add_command as add_settings_command
from .tools import add_commands as add_tool_commands
from .tools import parse_grants, terminal_ask
from .tune_command import add_command as add_tune_command


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse prints usage + error; the contract wants one line
        raise UsageError(f"{message} (see `{self.prog} --help`)")






# ---- output helpers ----------------------------------------------------------------------------------------------
def _progress_printer() -> Callable[[str, int, int], None]:
    """Install/verify progress on stderr: a live percentage on a terminal, one line per step otherwise."""
    last: dict[str, int] = {}
    tty = sys.stderr.isatty()

    def show(what: str, done: int, total: int) -> None:
        pct = int(done * 100 / total) if total else 100
        if tty and pct != last.get(what):
            sys.stderr.write(f"\redgemind: {what} ({total / 1e6:,.0f} MB) … {pct}%" + ("\n" if pct == 100 else ""))
        elif not tty and what not in last:
            sys.stderr.write(f"edgemind: {what} ({total / 1e6:,.0f} MB) …\n")
        last[what] = pct
        sys.stderr.flush()

    return show


def _engine(settings: Settings) -> Engine:
    engine = Engine.create(settings)
    engine.install_progress = _progress_printer()
    return engine


def _tool_line(event: ToolCall | ToolResult) -> str:
    if isinstance(event, ToolCall):
        return f"edgemind: tool {event.tool} {json.dumps(event.arguments, ensure_ascii=False)[:200]}"
    return f"edgemind: tool {event.tool}: {event.decision}{'' if event.ok else ' (failed)'}: {event.summary[:120]}"


# ---- commands ----------------------------------------------------------------------------------------------------
def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    options = AskOptions(
        model=args.model, backend=args.backend, max_tokens=args.max_tokens, temperature=args.temperature,
        seed=args.seed, system_prompt=args.system, conversation_id=args.conversation, stop=tuple(args.stop),
        use_cache=not args.no_cache,
    )
    preset = preset_settings(settings, args.preset) if args.preset else None
    engine = _engine(settings)
    engine.summarize_in_background = False  # a one-shot command must not wait for a summary before exiting
    if not args.no_tools:  # the terminal's tool capability, for this one question
        options = replace(options, tools=engine.open_tools(ask=terminal_ask(), grants=parse_grants(args.grant)))
    if preset is not None:  # under the options given on the command line, which win (`--temperature 0`)
        options = chat_options(preset, options)
    cancel = CancelToken()
    text: list[str] = []
    route: Route | None = None
    try:
        with ctrl_c_cancels(cancel):
            for event in engine.stream(prompt, options, cancel):
                if isinstance(event, Route):
                    route = event
                elif isinstance(event, (ToolCall, ToolResult)) and not args.json:
                    sys.stderr.write(_tool_line(event) + "\n")
                elif isinstance(event, Token):
                    text.append(event.text)
                    if not args.json:
                        sys.stdout.write(event.text)
                        sys.stdout.flush()
                elif isinstance(event, Error):
                    raise error_for_kind(event.kind, event.message)
                elif isinstance(event, Done):
                    assert route is not None
                    m = event.metrics
                    if args.json:
                        print_json({
                            "text": "".join(text), "model": route.model, "backend": route.backend,
                            "intent": route.intent, "cache": event.cache, "ttft_ms": m.ttft_ms, "tokens": m.tokens,
                            "tok_s": m.tok_s, "prompt_tokens": m.prompt_tokens, "load_ms": m.load_ms,
                            "refused": event.refused, "safety_category": event.safety_category,
                            "tool_calls": list(event.tool_calls), "finish_reason": event.finish_reason,
                            "conversation_id": event.conversation_id, "similarity": event.similarity,
                        })
                    else:
                        sys.stdout.write("\n")
                    if event.finish_reason == "cancelled":
                        sys.stderr.write("edgemind: stopped; the partial answer was kept\n")
                        return EXIT_INTERRUPTED
    finally:
        engine.close()
    return EXIT_OK


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    preset = preset_settings(settings, args.preset) if getattr(args, "preset", None) else None
    engine = _engine(settings)
    try:
        return ChatSession(engine, model=args.model, out=sys.stdout, tools=engine.open_tools(ask=terminal_ask()),
                           preset=preset).run()
    finally:
        engine.close()


def cmd_models_list(args: argparse.Namespace, settings: Settings) -> int:
    models = Models.open(settings).list(include_ollama=not args.no_ollama)
    rows = []
    for m in models:
        row = m.as_dict()
        row["installed"] = bool(m.path and m.path.exists()) if m.backend == "llama_cpp" else None
        row["default"] = m.id == settings.default_model
        rows.append(row)
    if args.json:
        print_json(rows)
    else:
        for r in rows:
            size = f"{r['size_bytes'] / 1e6:,.0f} MB" if r["size_bytes"] else "-"
            where = r["path"] or r["endpoint"] or ""
            flags = ("default " if r["default"] else "") + ("bundled" if r["bundled"] else "")
            state = "" if r["installed"] is not False else " (installed on first use)"
            print(f"{r['id']:<34} {r['backend']:<10} {size:>8}  {flags:<16} {where}{state}")
    return EXIT_OK


def cmd_models_add(args: argparse.Namespace, settings: Settings) -> int:
    models = Models.open(settings)
    if args.openai_url:
        if args.path:
            raise UsageError("give either a GGUF PATH or --openai-url, not both")
        if not args.remote_model:
            raise UsageError("--openai-url needs --remote-model NAME (the model's name on that server)")
        api_key = args.api_key or os.environ.get("EDGEMIND_OPENAI_API_KEY")
        spec = models.add_openai(args.openai_url, args.remote_model, api_key, args.id)
    else:
        if not args.path:
            raise UsageError("give the path of a GGUF file, or --openai-url URL --remote-model NAME")
        spec = models.add_gguf(Path(args.path), args.id, _progress_printer())
    if args.json:
        print_json(spec.as_dict())
    else:
        print(f"added {spec.id} ({spec.backend})")
    return EXIT_OK


def cmd_models_remove(args: argparse.Namespace, settings: Settings) -> int:
    message = Models.open(settings).remove(args.id)
    if args.json:
        print_json({"id": args.id, "message": message})
    else:
        print(message)
    return EXIT_OK


def cmd_models_verify(args: argparse.Namespace, settings: Settings) -> int:
    models = Models.open(settings)
    ids = args.ids or [m.id for m in models.list(include_ollama=False) if m.backend == "llama_cpp"]
    results, failed = [], 0
    for model_id in ids:
        try:
            spec = models.verify(model_id, _progress_printer())
            results.append({"id": model_id, "ok": True, "sha256": spec.sha256, "path": str(spec.path)})
        except EdgeMindError as exc:
            failed += 1
            results.append({"id": model_id, "ok": False, "error": str(exc)})
    if args.json:
        print_json({"ok": failed == 0, "models": results})
    else:
        for r in results:
            print(f"{r['id']}: " + ("ok" if r["ok"] else f"FAILED: {r['error']}"))
    if failed:
        sys.stderr.write(f"edgemind: error: {failed} model(s) failed verification\n")
    return EXIT_FAIL if failed else EXIT_OK


def cmd_models_install(args: argparse.Namespace, settings: Settings) -> int:
    models = Models.open(settings)
    for spec in models.bundled():
        models.prepare(spec, _progress_printer())
        if not args.json:
            print(f"{spec.id}: ready at {spec.path}")
    if args.json:
        print_json({"installed": [s.id for s in models.bundled()]})
    return EXIT_OK


def cmd_cache(args: argparse.Namespace, settings: Settings) -> int:
    cache = CacheAdmin.open(settings)
    if args.action == "clear":
        result: dict[str, Any] = {"cleared": cache.clear()}
        text = f"cleared {result['cleared']} cached answers and their prompt embeddings"
    else:
        result = cache.stats()
        text = (f"{result['entries']} cached answers ({result['semantic_entries']} also found by meaning), "
                f"{result['bytes'] / 1e6:.2f} MB of {result['max_bytes'] / 1e6:.0f} MB, "
                f"{result['hits']} hits; {'enabled' if settings.cache_enabled else 'disabled'}; {result['path']}")
    if args.json:
        print_json(result)
    else:
        print(text)
    return EXIT_OK


def _conversation_markdown(conv: dict[str, Any]) -> str:
    lines = [f"# {conv['title'] or 'Untitled conversation'}", "",
             f"*EdgeMind conversation {conv['id']}, started {conv['created_at'][:16].replace('T', ' ')}*", ""]
    for m in conv["messages"]:
        who = "You" if m["role"] == "user" else f"EdgeMind ({m['model']})" if m["role"] == "assistant" else m["role"]
        note = " *(stopped)*" if m["status"] == "cancelled" else ""
        lines += [f"## {who}{note}", ""]
        for call in m.get("tool_calls", ()):
            args = json.dumps(call.get("arguments", {}), ensure_ascii=False)
            lines.append(f"> tool `{call.get('tool')}` {args}: {call.get('decision')}, "
                         f"{call.get('result_summary', '')}")
        lines += ["", m["content"], ""] if m.get("tool_calls") else [m["content"], ""]
    return "\n".join(lines)


def cmd_history(args: argparse.Namespace, settings: Settings) -> int:
    conversations = Conversations.open(settings)
    if args.action == "list":
        infos = conversations.list(limit=args.limit)
        if args.json:
            print_json([{"id": c.id, "title": c.title, "updated_at": c.updated_at.isoformat(),
                          "messages": c.message_count} for c in infos])
            return EXIT_OK
        for c in infos:
            updated = c.updated_at.isoformat()[:16].replace("T", " ")
            print(f"{c.id[:8]}  {updated}  {c.message_count:>4} msgs  {c.title}")
        return EXIT_OK
    if args.action == "search":
        hits = conversations.search(args.target or "", limit=args.limit)
        if args.json:
            print_json([{"conversation_id": h.conversation_id, "title": h.title, "message_id": h.message_id,
                          "role": h.role, "snippet": h.snippet} for h in hits])
        for h in [] if args.json else hits:
            print(f"{h.conversation_id[:8]}  {h.title[:40]:<40}  {h.role}: {h.snippet}")
        return EXIT_OK
    conversation_id = conversations.resolve(args.target or "")
    if args.action == "delete":
        removed = conversations.delete(conversation_id)
        result = {"deleted": conversation_id, **removed}
        if args.json:
            print_json(result)
        else:
            print(f"deleted conversation {conversation_id[:8]}: {removed['messages']} messages, "
                  f"{removed['cached_answers']} cached answers")
        return EXIT_OK
    conv = conversations.export(conversation_id)
    as_json = args.json or (args.action == "export" and args.format == "json")
    text = json.dumps(conv, ensure_ascii=False, indent=2) if as_json else _conversation_markdown(conv)
    if args.action == "export" and args.out:
        try:
            Path(args.out).write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise EdgeMindError(f"cannot write {args.out}: {exc.strerror or exc}") from None
        print(f"exported {len(conv['messages'])} messages to {args.out}")
    else:
        print(text)
    return EXIT_OK


def cmd_route(args: argparse.Namespace, settings: Settings) -> int:
    from ..routing.router import IntentRouter  # lazy: the router loads onnxruntime and its classifier (~1 s)

    if bool(args.prompt) == bool(args.batch):
        raise UsageError("give a PROMPT or --batch FILE.jsonl, not both")
    router = IntentRouter.create(settings)
    if args.batch:
        for line, decision in router.route_batch(Path(args.batch)):
            if args.json:
                print_json({"line": line, **decision.as_dict()})
            else:
                print(f"{line}: {decision.intent} ({decision.confidence:.2f}) -> {decision.model_id}; "
                      f"tools: {', '.join(decision.tools) or 'none'}")
        return EXIT_OK
    decision = router.route(args.prompt, args.model)
    mcp, problems = McpServers.of(settings).offers(args.prompt)  # cached definitions only: no server starts
    if args.json:
        print_json({**decision.as_dict(), "mcp_tools": [o.as_dict() for o in mcp], "mcp_problems": problems})
    else:
        tools = ", ".join([*decision.tools, *(o.tool for o in mcp)]) or "none"
        print(f"{decision.intent} ({decision.confidence:.2f}) -> {decision.model_id}; tools: {tools}; "
              f"{decision.reason}")
        for tool, why in decision.tools_why:
            print(f"  offers {tool}: {why}")
        for offer in mcp:
            print(f"  offers {offer.tool}: MCP server {offer.server}; {offer.why}")
        for tool, why in decision.tools_left_out:
            print(f"  not {tool}: {why}")
        for problem in problems:
            sys.stderr.write(f"edgemind: warning: {problem}\n")
    return EXIT_OK


def cmd_safety_check(args: argparse.Namespace, settings: Settings) -> int:
    from ..safety.checker import SafetyChecker  # lazy: the checker loads onnxruntime and its classifier (~1 s)

    if bool(args.prompt) == bool(args.batch):
        raise UsageError("give a PROMPT or --batch FILE.jsonl, not both")
    checker = SafetyChecker.create(settings)
    if args.level:
        checker = checker.with_policy(checker.policy.with_level(args.level))
    if args.batch:
        for line, v in checker.check_batch(Path(args.batch)):
            if args.json:
                print_json({"line": line, "allowed": v.allowed, "category": v.category, "reason": v.reason,
                             "score": v.score})
            else:
                print(f"{line}: {'allowed' if v.allowed else 'refused'} {v.category or ''} ({v.reason})")
        return EXIT_OK
    v = (checker.check_output if args.output else checker.check_input)(args.prompt)
    if args.json:
        print_json(v.as_dict())
    else:
        print(("allowed" if v.allowed else f"refused: {v.category}") + f" ({v.reason})")
        if v.message:
            print(v.message)
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    report = run_doctor(settings)
    if args.json:
        print_json(report)
    else:
        print(format_report(report))
    return EXIT_OK if report["ok"] else EXIT_FAIL


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from ..api import ServerConfig, load_or_create_api_key, serve  # lazy: starlette and onnxruntime (~1 s)
    from ..api.server import check_bind  # lazy: as above, the API package loads only for `serve`

    key, source = load_or_create_api_key(settings.home, os.environ.get("EDGEMIND_API_KEY"))
    config = ServerConfig.from_settings(settings, api_key=key, host=args.host, port=args.port,
                                        allow_remote=args.allow_remote)
    check_bind(config)  # before loading anything: a wrong address or busy port fails in one line, at once
    engine = _engine(settings)
    serve(engine, config, key_source=source)
    return EXIT_OK


def cmd_review(args: argparse.Namespace, settings: Settings) -> int:
    if args.file == "-":
        code, name = sys.stdin.read(), None
    else:
        try:
            code, name = Path(args.file).read_text(encoding="utf-8"), args.file
        except UnicodeDecodeError:
            raise EdgeMindError(f"{args.file} is not UTF-8 text; review reads source files") from None
        except OSError as exc:
            raise EdgeMindError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    engine = _engine(settings)
    engine.summarize_in_background = False
    cancel = CancelToken()

    def show(f: Finding) -> None:  # as each finding is known: the analyzers' at once, the model's as it writes
        tail = f" (suggestion: {f.suggestion})" if f.suggestion else ""
        print(f"{name or '<stdin>'}:{f.line}: {f.severity}: {f.message}{tail} [{f.source}]", flush=True)

    def tell(report: AnalyzerReport) -> None:
        sys.stderr.write(f"edgemind: analyzers: {', '.join(report.ran) or 'none'}\n")
        for note in report.notes:
            sys.stderr.write(f"edgemind: {note}\n")
        sys.stderr.flush()

    try:
        with ctrl_c_cancels(cancel):
            result = review_code(engine, code, path=name, model=args.model, cancel=cancel,
                                 on_finding=None if args.json else show, on_analyzers=None if args.json else tell,
                                 use_model=not args.no_model)
    finally:
        engine.close()
    if args.json:
        print_json(result.as_dict())
    elif not result.findings:
        print(f"no findings ({result.model or 'analyzers only'}, {result.lines} lines)")
    if result.cancelled:
        sys.stderr.write("edgemind: stopped; findings so far were printed\n")
        return EXIT_INTERRUPTED
    return EXIT_OK


def _gui_entry_point() -> Callable[..., Any] | None:
    guis = entry_points(group="edgemind.gui")
    return next(iter(guis)).load() if guis else None


def cmd_gui(args: argparse.Namespace, settings: Settings) -> int:
    """The desktop app (through the `edgemind.gui` entry point: core never imports it)."""
    run = _gui_entry_point()
    if run is None:
        raise EdgeMindError("the desktop app is not installed (no `edgemind.gui` entry point); reinstall EdgeMind")
    screenshot = Path(args.screenshot) if args.screenshot else None
    if args.tray:
        settings = with_overrides(settings, start_in_tray=True)
    return int(run(settings, self_test=args.self_test, screenshot=screenshot) or 0)


def _has_display() -> bool:
    return sys.platform in ("win32", "darwin") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def cmd_quick(args: argparse.Namespace, settings: Settings) -> int:
    """Only the quick-ask popup (the command a desktop's keyboard shortcut runs); the process ends when it closes."""
    # QT_QPA_PLATFORM set by the user (offscreen, vnc...) is a display of its choosing
    if not (_has_display() or os.environ.get("QT_QPA_PLATFORM")):
        raise EdgeMindError("no display here: `edgemind quick` opens a window on the desktop; in a terminal, "
                            "use `edgemind ask PROMPT`")
    run = _gui_entry_point()
    if run is None:
        raise EdgeMindError("the desktop app is not installed (no `edgemind.gui` entry point); reinstall EdgeMind")
    return int(run(settings, quick=" ".join(args.prompt)) or 0)


def cmd_start(args: argparse.Namespace, settings: Settings) -> int:
    """No subcommand: the GUI where a display and a GUI plugin exist, else the terminal chat."""
    run = _gui_entry_point() if _has_display() else None
    if run is not None:
        return int(run(settings) or 0)
    args.model = None
    return cmd_chat(args, settings)


def _no_safety(parser: argparse.ArgumentParser) -> None:
    """Safety checks off for this run only, as `safety_enabled = false` turns them off for every run."""
    parser.add_argument("--no-safety", action="store_true",
                        help="do not check prompts and answers for harmful content in this run")


def run_settings(args: argparse.Namespace, settings: Settings) -> Settings:
    """The settings with this run's command-line switches over them (`--no-safety`)."""
    if getattr(args, "no_safety", False):
        return with_overrides(settings, safety_enabled=False)
    return settings


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="edgemind", description="EdgeMind: a local AI assistant on your own computer.")
    p.add_argument("--version", action="version", version="edgemind 0.1.0")
    p.add_argument("-v", "--verbose", action="store_true", help="log what the engine does to stderr")
    p.set_defaults(func=cmd_start, json=False)
    sub = p.add_subparsers(title="commands", metavar="COMMAND")

    ask = sub.add_parser("ask", help="answer one prompt and exit")
    ask.add_argument("prompt", help="the prompt, or - to read it from stdin")
    ask.add_argument("--model", help="model id (see `edgemind models list`)")
    ask.add_argument("--backend", choices=["llama_cpp", "onnx_int4", "tmac", "ollama", "openai"],
                     help="require this backend (a local GGUF model runs on llama_cpp, onnx_int4 or tmac)")
    ask.add_argument("--max-tokens", type=arg_types.positive_int, help="longest answer in tokens")
    ask.add_argument("--temperature", type=arg_types.temperature, help="0 for deterministic answers, up to 2")
    ask.add_argument("--seed", type=int, help="sampling seed, for repeatable answers")
    ask.add_argument("--system", help="system prompt for this request")
    ask.add_argument("--stop", action="append", default=[], metavar="TEXT",
                     help="end the answer where this text would start (repeatable)")
    ask.add_argument("--conversation", help="continue this conversation id")
    ask.add_argument("--no-cache", action="store_true",
                     help="never answer from the cache (the answer still refreshes it)")
    ask.add_argument("--grant", action="append", default=[], metavar="SCOPE",
                     help="let tools use SCOPE for this run, e.g. fs.read:~/notes or code.exec (repeatable)")
    ask.add_argument("--no-tools", action="store_true", help="answer without offering any tool")
    ask.add_argument("--preset", metavar="NAME",
                     help="use a saved preset's model, temperature, system prompt and tools (options given here win)")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    _no_safety(ask)
    ask.set_defaults(func=cmd_ask)

    chat = sub.add_parser("chat", help="terminal chat with streaming answers")
    chat.add_argument("--model", help="model id to start with")
    chat.add_argument("--preset", metavar="NAME",
                      help="start with a saved preset's settings; new conversations keep them (`edgemind presets`)")
    _no_safety(chat)
    chat.set_defaults(func=cmd_chat)

    models = sub.add_parser("models", help="list, add, remove and verify models")
    msub = models.add_subparsers(title="models commands", metavar="ACTION", required=True)
    ml = msub.add_parser("list", help="every model EdgeMind can use")
    ml.add_argument("--json", action="store_true")
    ml.add_argument("--no-ollama", action="store_true", help="do not ask a local Ollama server for its models")
    ml.set_defaults(func=cmd_models_list)
    ma = msub.add_parser("add", help="add a GGUF file, or an OpenAI-compatible endpoint")
    ma.add_argument("path", nargs="?", help="path of a .gguf file")
    ma.add_argument("--id", help="model id to use (default: from the file name)")
    ma.add_argument("--openai-url", help="base URL of an OpenAI-compatible server, e.g. http://host:8000/v1")
    ma.add_argument("--remote-model", help="the model's name on that server")
    ma.add_argument("--api-key", help="API key for that server (or set EDGEMIND_OPENAI_API_KEY)")
    ma.add_argument("--json", action="store_true")
    ma.set_defaults(func=cmd_models_add)
    mr = msub.add_parser("remove", help="forget a model (a bundled one: delete its installed copy)")
    mr.add_argument("id")
    mr.add_argument("--json", action="store_true")
    mr.set_defaults(func=cmd_models_remove)
    mv = msub.add_parser("verify", help="check files against their SHA-256 and GGUF header")
    mv.add_argument("ids", nargs="*", metavar="ID")
    mv.add_argument("--json", action="store_true")
    mv.set_defaults(func=cmd_models_verify)
    mi = msub.add_parser("install", help="install the bundled models into the data folder now")
    mi.add_argument("--json", action="store_true")
    mi.set_defaults(func=cmd_models_install)
    add_pull_commands(msub)

    history = sub.add_parser("history", help="list, show, search, export and delete conversations")
    history.add_argument("action", choices=["list", "show", "search", "export", "delete"])
    history.add_argument("target", nargs="?", help="conversation id (a unique prefix is enough), or the search query")
    history.add_argument("--limit", type=arg_types.positive_int, default=50)
    history.add_argument("--format", choices=["md", "json"], default="md", help="export format")
    history.add_argument("--out", help="export to this file instead of stdout")
    history.add_argument("--json", action="store_true")
    history.set_defaults(func=cmd_history)

    route = sub.add_parser("route", help="show how a prompt would be routed (intent, model, tools)")
    route.add_argument("prompt", nargs="?")
    route.add_argument("--batch", metavar="FILE.jsonl", help="lines with a \"prompt\" field; prints JSON lines")
    route.add_argument("--model", help="a model the user chose")
    route.add_argument("--json", action="store_true")
    route.set_defaults(func=cmd_route)

    safety = sub.add_parser("safety", help="check prompts against the safety policy")
    ssub = safety.add_subparsers(title="safety commands", metavar="ACTION", required=True)
    sc = ssub.add_parser("check", help="check one prompt, or a JSON-lines file of them")
    sc.add_argument("prompt", nargs="?")
    sc.add_argument("--batch", metavar="FILE.jsonl", help="lines with a \"prompt\" field; prints JSON lines")
    sc.add_argument("--output", action="store_true", help="check the text as a model answer")
    sc.add_argument("--level", choices=["strict", "standard", "relaxed"])
    sc.add_argument("--json", action="store_true")
    sc.set_defaults(func=cmd_safety_check)

    cache = sub.add_parser("cache", help="answer cache statistics, or clear it")
    cache.add_argument("action", choices=["stats", "clear"])
    cache.add_argument("--json", action="store_true")
    cache.set_defaults(func=cmd_cache)

    serve = sub.add_parser("serve", help="OpenAI- and Ollama-compatible API server on this computer")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this computer only)")
    serve.add_argument("--port", type=arg_types.port, help="TCP port (default: api_port in settings, 8642)")
    serve.add_argument("--allow-remote", action="store_true",
                       help="allow a --host other computers can reach (the API key is still required)")
    _no_safety(serve)
    serve.set_defaults(func=cmd_serve)

    review = sub.add_parser("review", help="review a source file with the code model")
    review.add_argument("file", help="the file to review, or - to read it from stdin")
    review.add_argument("--model", help="model id (default: the default model)")
    review.add_argument("--json", action="store_true",
                        help="print {findings: [{line, severity, message, suggestion, source}]} at the end")
    review.add_argument("--no-model", action="store_true", help="the analyzers alone (Python: ruff and AST checks)")
    review.set_defaults(func=cmd_review)

    gui = sub.add_parser("gui", help="start the desktop app")
    gui.add_argument("--self-test", action="store_true",
                     help="open every surface, send a prompt, exit 0 only when each worked")
    gui.add_argument("--screenshot", metavar="PNG", help="with --self-test: save the surfaces as PNG files")
    gui.add_argument("--tray", action="store_true",
                     help="start in the tray without the window (how the installer's start-with-Windows runs it)")
    gui.set_defaults(func=cmd_gui)

    quick = sub.add_parser("quick", help="open only the quick-ask popup (bind this to a key in your desktop's "
                           "keyboard settings); it answers, and exits when closed")
    quick.add_argument("prompt", nargs="*", help="a question to answer at once (none: type it in the popup)")
    quick.set_defaults(func=cmd_quick)

    doctor = sub.add_parser("doctor", help="hardware, execution providers, models and data folder health")
    doctor.add_argument("--json", action="store_true")
    doctor.set_defaults(func=cmd_doctor)
    add_settings_command(sub)

    add_tool_commands(sub, arg_types.positive_int)
    add_mcp_command(sub)
    add_distill_command(sub)
    add_pack_command(sub)
    add_presets_command(sub, arg_types.temperature)
    add_bench_command(sub, arg_types.positive_int)
    add_tune_command(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--edgemind-native-check"]:
        # the frozen bundle's way to start llama.cpp's check process (there is no `python -m` in a bundle)
        return native_check(argv[1:])
    not_utf8 = _first_non_utf8(argv)
    if not_utf8 is not None:  # before argparse, which would echo the bytes back in a message we cannot print
        sys.stderr.write(f"edgemind: error: {not_utf8}\n")
        return EXIT_USAGE
    parser = build_parser()
    args: argparse.Namespace | None = None
    try:
        args = parser.parse_args(argv)
        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                            format="edgemind: %(levelname)s %(name)s: %(message)s")
        settings = run_settings(args, load_settings())
        secure_data_folder(settings.home)
        _watch_native_crashes(settings.home)
        return args.func(args, settings)
    except UsageError as exc:
        sys.stderr.write(f"edgemind: error: {exc}\n")
        return EXIT_USAGE
    except EdgeMindError as exc:
        if getattr(args, "json", False):
            print_json({"error": str(exc), "kind": exc.kind})
        sys.stderr.write(f"edgemind: {exc.headline}: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("\nedgemind: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `edgemind ask … | head`: the reader left; not our error
        return EXIT_OK
    except Exception as exc:  # a bug of ours: still one line for the user, the traceback goes to a file
        where = _write_crash_log()
        sys.stderr.write(f"edgemind: internal error: {exc.__class__.__name__}: {exc} (details in {where})\n")
        return EXIT_FAIL


def _first_non_utf8(argv: Sequence[str]) -> str | None:
    """What is wrong with the first argument that is not UTF-8 text, in one line; None when all are.

    Python hands undecodable argv bytes over as lone surrogates (and Windows can pass lone UTF-16 surrogates): they
    cannot be stored, printed or sent to a model, so they are refused here rather than failing deep inside."""
    for number, arg in enumerate(argv, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            raw = arg.encode("utf-8", "surrogateescape") if sys.platform != "win32" else arg.encode("utf-8", "replace")
            shown = raw.decode("ascii", "backslashreplace")
            if len(shown) > 60:
                shown = shown[:57] + "..."
            return f"argument {number} is not valid UTF-8 text ({shown}); pass prompts and names as UTF-8"
    return None


def _watch_native_crashes(home: Path) -> None:
    notice = last_crash(home)
    if notice:
        sys.stderr.write(f"edgemind: warning: {notice}\n")
    watch(home)


def _write_crash_log() -> str:
    import tempfile
    import traceback

    try:
        home = load_settings().home
    except EdgeMindError:
        home = Path(tempfile.gettempdir())
    path = home / "logs" / "crash.log"
    try:
        private_folder(path.parent)
        with append_private(path) as f:
            f.write(traceback.format_exc() + "\n")
    except OSError:
        return "nowhere: the log could not be written"
    return str(path)


if __name__ == "__main__":
    sys.exit(main())
