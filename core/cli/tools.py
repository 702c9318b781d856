"""`edgemind tools …` and `edgemind audit …`: list, run, grant and revoke tools; show, verify and export the log.

Kept apart from cli.py so the tool commands read as one unit; the output contract is the same (`--json`, exit codes).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..engine import Answer, AskCallback, AuditTrail, Grants, PermissionRequest, Tools
from ..errors import EdgeMindError
from ..settings import Settings
from .output import EXIT_FAIL, EXIT_OK, print_json

_ANSWERS = {"o": Answer.ONCE, "once": Answer.ONCE, "s": Answer.SESSION, "session": Answer.SESSION,
            "a": Answer.ALWAYS, "always": Answer.ALWAYS, "d": Answer.DENY, "deny": Answer.DENY, "": Answer.DENY}


def terminal_ask() -> AskCallback | None:
    """Ask on the terminal when there is one (stdin and stderr both a TTY); otherwise nobody can be asked."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return None

    def ask(request: PermissionRequest) -> Answer:
        args = json.dumps(request.arguments, ensure_ascii=False, indent=2)
        notes = "".join(f"{line}\n" for line in request.notes)
        sys.stderr.write(f"\nedgemind: the {request.plugin} tool `{request.tool}` wants: "
                         f"{', '.join(request.scopes) or 'no scope'}\n{notes}arguments:\n{args}\n"
                         "allow [o]nce, for this [s]ession, [a]lways, or [D]eny? ")
        sys.stderr.flush()
        try:
            reply = sys.stdin.readline().strip().lower()
        except (OSError, KeyboardInterrupt):
            return Answer.DENY
        return _ANSWERS.get(reply, Answer.DENY)

    return ask


def parse_grants(values: list[str]) -> list[Any]:
    try:
        return Grants.parse(values)
    except EdgeMindError as exc:
        raise EdgeMindError(f"--grant: {exc}") from None


def _server(plugin: str) -> str | None:
    """The MCP server a tool comes from (its plugin is `mcp:<server>`), or None for our own plugins' tools."""
    return plugin.removeprefix("mcp:") if plugin.startswith("mcp:") else None


def cmd_tools_list(args: argparse.Namespace, settings: Settings) -> int:
    installed = Tools.open(settings, mcp_refresh="all")  # lists every MCP server afresh (and caches the listing)
    try:
        listed = installed.list()
    finally:
        installed.close()
    if args.json:
        tools = [{"name": t.name, "plugin": t.manifest.plugin, "server": _server(t.manifest.plugin),
                  "description": t.manifest.description, "scopes": list(t.manifest.scopes),
                  "parameters": t.manifest.parameters, "notes": list(t.notes),
                  "dry_run": t.manifest.dry_run, "manifest_sha256": t.manifest.sha256} for t in listed]
        print_json({"tools": tools, "problems": installed.problems()})
        return EXIT_OK
    for t in listed:
        scopes = ", ".join(t.manifest.scopes) or "(no scope)"
        print(f"{t.name:<14} {_server(t.manifest.plugin) or '-':<10} {scopes:<18} {t.manifest.description}")
    for problem in installed.problems():
        sys.stderr.write(f"edgemind: warning: {problem}\n")
    return EXIT_OK


def cmd_tools_run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        arguments = json.loads(args.args)
    except json.JSONDecodeError as exc:
        raise EdgeMindError(f"--args is not valid JSON: {exc.msg} at character {exc.pos}") from None
    tools = Tools.open(settings, ask=terminal_ask(), grants=parse_grants(args.grant), mcp_refresh="missing")
    try:
        outcome = tools.run(args.name, arguments, dry_run=args.dry_run, raise_if_denied=not args.json)
    finally:
        tools.close()
    if args.json:
        print_json({**outcome.as_dict(), "content": outcome.content})
        return EXIT_OK if outcome.ok else EXIT_FAIL
    if not outcome.ok:
        raise EdgeMindError(outcome.content.removeprefix("error: "))
    print(outcome.content)
    return EXIT_OK


def cmd_tools_grants(args: argparse.Namespace, settings: Settings) -> int:
    grants = Grants.open(settings).list()
    if args.json:
        print_json({"grants": [g.as_dict() for g in grants]})
    elif not grants:
        print("no stored grants (tools ask before they act)")
    for g in grants if not args.json else ():
        print(f"{g.id:>4}  {g.tool:<14} {g.scope}  (since {g.created_at[:19]}, manifest {g.manifest_sha[:12]})"
              + ("" if g.honoured else "  NOT HONOURED: not covered by the audit anchor"))
    return EXIT_OK


def cmd_tools_grant(args: argparse.Namespace, settings: Settings) -> int:
    tool = Grants.open(settings).grant(args.name, parse_grants(args.scopes))
    print(f"granted {', '.join(args.scopes)} to {tool.name} until revoked")
    return EXIT_OK


def cmd_tools_revoke(args: argparse.Namespace, settings: Settings) -> int:
    if sum(x is not None and x is not False for x in (args.id, args.tool, args.all or None)) != 1:
        raise EdgeMindError("give one of: a grant ID, --tool NAME, or --all")
    removed = Grants.open(settings).revoke(grant_id=args.id, tool=args.tool)
    if args.json:
        print_json({"removed": removed})
    else:
        print(f"revoked {removed} grant(s)")
    return EXIT_OK


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    audit = AuditTrail.open(settings)
    if args.action == "verify":
        result = audit.verify()
        if args.json:
            print_json(result.as_dict())
        elif result.ok:
            print(f"audit log intact: {result.rows} rows, chain and seal verified")
        elif result.note:
            print(f"  note: {result.note}")
        if not result.ok:
            where = f" at row {result.first_bad_id}" if result.first_bad_id is not None else ""
            sys.stderr.write(f"edgemind: error: audit log tampered with{where}: {result.problem}\n")
            return EXIT_FAIL
        return EXIT_OK
    if args.action == "accept":
        result = audit.accept()
        if args.json:
            print_json(result.as_dict())
        else:
            print(f"audit log re-anchored at its {result.rows} rows; the acceptance is row {result.rows} of the log")
        return EXIT_OK
    if args.action == "export":
        lines = list(audit.export_jsonl())
        if args.out:
            try:
                Path(args.out).write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
            except OSError as exc:
                raise EdgeMindError(f"cannot write {args.out}: {exc.strerror or exc}") from None
            print(f"exported {len(lines)} audit rows to {args.out}")
        else:
            sys.stdout.write("\n".join(lines) + ("\n" if lines else ""))
        return EXIT_OK
    entries = audit.entries(kind=args.kind, tool=args.tool, limit=args.limit, newest_first=True)[::-1]
    if args.json:
        print_json({"entries": [e.as_dict() for e in entries]})
        return EXIT_OK
    for e in entries:
        detail = json.dumps(e.detail, ensure_ascii=False)
        print(f"{e.id:>6} {e.ts[:19]} {e.kind:<13} {e.tool or '-':<14} {detail[:120]}")
    return EXIT_OK


def add_commands(sub: Any, positive_int: Callable[[str], int]) -> None:
    tools = sub.add_parser("tools", help="list and run tools; show and revoke grants")
    tsub = tools.add_subparsers(title="tools commands", metavar="ACTION", required=True)
    tl = tsub.add_parser("list", help="every installed tool with its scopes")
    tl.add_argument("--json", action="store_true")
    tl.set_defaults(func=cmd_tools_list)
    tr = tsub.add_parser("run", help="run one tool (asks for permission on a terminal, else needs --grant)")
    tr.add_argument("name")
    tr.add_argument("--args", default="{}", metavar="JSON", help="the tool's arguments as a JSON object")
    tr.add_argument("--grant", action="append", default=[], metavar="SCOPE",
                    help="grant SCOPE for this run only, e.g. fs.read:~/notes (repeatable)")
    tr.add_argument("--dry-run", action="store_true", help="show what the call would do, without doing it")
    tr.add_argument("--json", action="store_true")
    tr.set_defaults(func=cmd_tools_run)
    tg = tsub.add_parser("grants", help="list stored (always) grants")
    tg.add_argument("--json", action="store_true")
    tg.set_defaults(func=cmd_tools_grants)
    ta = tsub.add_parser("grant", help="grant a tool scopes until revoked")
    ta.add_argument("name")
    ta.add_argument("scopes", nargs="+", metavar="SCOPE")
    ta.add_argument("--json", action="store_true")
    ta.set_defaults(func=cmd_tools_grant)
    tv = tsub.add_parser("revoke", help="revoke a stored grant by ID, a tool's grants, or all")
    tv.add_argument("id", nargs="?", type=positive_int)
    tv.add_argument("--tool")
    tv.add_argument("--all", action="store_true")
    tv.add_argument("--json", action="store_true")
    tv.set_defaults(func=cmd_tools_revoke)

    audit = sub.add_parser("audit", help="show, verify or export the audit log; accept a restored copy")
    audit.add_argument("action", choices=["show", "verify", "export", "accept"],
                       help="accept: re-anchor at the log as it is now, after a restore you chose (stored grants "
                       "made since the copy are not honoured again)")
    audit.add_argument("--kind", help="only rows of this kind (route, tool_call, denied, grant, …)")
    audit.add_argument("--tool", help="only rows about this tool")
    audit.add_argument("--limit", type=positive_int, default=50, help="newest N rows (show)")
    audit.add_argument("--out", help="export to this file instead of stdout")
    audit.add_argument("--json", action="store_true")
    audit.set_defaults(func=cmd_audit)
