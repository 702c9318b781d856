"""The `edgemind mcp` commands: add, list, remove, enable/disable and import the MCP servers EdgeMind may use.

Thin: core/mcp/service.py does the work (the Settings page calls the same). Bad input (a malformed server or file)
exits 2 with one line and writes nothing; secrets are never printed.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import Any, NoReturn

from ..mcp.service import Change, McpConfigError, McpServers, ServerTools, server_from_fields
from ..settings import Settings
from .output import EXIT_OK, print_json


def add_command(sub: Any) -> None:
    p = sub.add_parser("mcp", help="add, list, remove and import MCP servers (tools from other programs)")
    msub = p.add_subparsers(title="mcp commands", metavar="ACTION", required=True)

    add = msub.add_parser("add", help="add a server: NAME -- COMMAND [ARGS...] (stdio) or NAME --url URL (HTTP)",
                          description=ADD_DESCRIPTION)
    _add_options(add)
    # argparse cannot take options between NAME and `-- COMMAND...` with two positionals (it binds an empty COMMAND
    # at NAME and then refuses the rest), so the words after the first positional are parsed again in cmd_mcp_add
    add.add_argument("rest", nargs=argparse.REMAINDER, metavar="NAME [-- COMMAND [ARGS...]]",
                     help="the server's name (its tools are called mcp__<name>__<tool>); after --: the program to "
                          "start and its arguments")
    add.set_defaults(func=cmd_mcp_add)

    ls = msub.add_parser("list", help="the configured servers (secrets shown as ***)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_mcp_list)

    rm = msub.add_parser("remove", help="remove a server and forget its secrets")
    rm.add_argument("name")
    rm.add_argument("--json", action="store_true")
    rm.set_defaults(func=cmd_mcp_remove)

    for action, switch in (("enable", "on"), ("disable", "off")):
        sw = msub.add_parser(action, help=f"switch a server {switch} (a disabled one is never started)")
        sw.add_argument("name")
        sw.add_argument("--json", action="store_true")
        sw.set_defaults(func=cmd_mcp_switch, disabled=action == "disable")

    imp = msub.add_parser("import", help="import the servers of Claude Desktop, LM Studio, Jan or AnythingLLM",
                          description="FILE: claude_desktop_config.json, LM Studio's mcp.json, Jan's mcp_config.json "
                                      "or anythingllm_mcp_servers.json. All servers or none are imported.")
    imp.add_argument("file", type=Path)
    imp.add_argument("--replace", action="store_true", help="replace servers of the same name")
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(func=cmd_mcp_import)


ADD_DESCRIPTION = ("Names keep a-z, 0-9 and _ only (\"mcp-server-time\" becomes \"mcp_server_time\"). Header values, "
                   "and env values whose name contains KEY, TOKEN, SECRET, PASS, PWD, AUTH, CREDENTIAL, COOKIE, "
                   "SESSION or PRIVATE, go to the OS keyring (else a 0600 file), never into mcp.json.")


class _AddWords(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # the CLI contract: one line, exit 2 (bad input)
        hint = " (put the server's command after --)" if message.startswith("unrecognized") else ""
        raise McpConfigError(f"edgemind mcp add: {message}{hint}")


def _add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", help="a streamable-HTTP server's address (http:// or https://)")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                   help="environment variable for the server (repeatable); NAME alone takes its value from your "
                        "environment, so a secret stays out of your shell history")
    p.add_argument("--header", action="append", default=[], metavar="NAME=VALUE",
                   help="HTTP header for a --url server (repeatable), e.g. Authorization=\"Bearer ...\"")
    p.add_argument("--cwd", help="working folder of a stdio server")
    p.add_argument("--replace", action="store_true", help="replace a server of the same name")
    p.add_argument("--json", action="store_true")


def _add_arguments(args: argparse.Namespace) -> argparse.Namespace:
    """NAME, the options given after it and the command after `--`, merged with the options given before NAME."""
    words: list[str] = list(args.rest)
    command: list[str] = []
    if "--" in words:
        cut = words.index("--")
        words, command = words[:cut], words[cut + 1:]
    inner = _AddWords(prog="edgemind mcp add", add_help=False)
    _add_options(inner)
    inner.add_argument("name")
    inner.add_argument("command", nargs="*")
    later = inner.parse_args(words)
    if later.command and command:
        raise McpConfigError(f"edgemind mcp add: unexpected words before --: {' '.join(later.command)}")
    for option in ("url", "cwd"):
        if getattr(args, option) is not None and getattr(later, option) is not None:
            raise McpConfigError(f"edgemind mcp add: --{option} is given twice")
    return argparse.Namespace(
        name=later.name, command=command or later.command, url=later.url or args.url, cwd=later.cwd or args.cwd,
        env=args.env + later.env, header=args.header + later.header, replace=args.replace or later.replace,
        json=args.json or later.json)


def _pairs(values: list[str], option: str, *, from_environment: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep:
            if not from_environment:
                raise McpConfigError(f"{option} {item!r}: expected NAME=VALUE")
            if name not in os.environ:
                raise McpConfigError(f"{option} {name}: no value given and no {name} in your environment")
            value = os.environ[name]
        if not name.strip():
            raise McpConfigError(f"{option} {item!r}: the name is empty")
        out[name.strip()] = value
    return out


def _tools_json(listed: list[ServerTools]) -> dict[str, Any]:
    """`tools`: each listed server's tool count (null: it could not start); `warnings`: one line per problem."""
    warnings = [w for t in listed for w in ([t.line()] if t.tools is None else list(t.problems))]
    return {"tools": {t.name: t.tools for t in listed}, "warnings": warnings}


def _warn(listed: list[ServerTools]) -> None:
    """`time: 2 tools` on stdout; a server that could not be listed is one warning line on stderr."""
    for t in listed:
        if t.tools is None:
            sys.stderr.write(f"edgemind: warning: {t.line()}\n")
        else:
            print(t.line())
            for problem in t.problems:
                sys.stderr.write(f"edgemind: warning: {problem}\n")


def _report(change: Change, args: argparse.Namespace, servers: McpServers) -> None:
    """What was saved, then each new server's tools, listed now so the next session knows them (a server that
    cannot start is a warning: it stays configured and is tried again when a session needs it)."""
    listed = servers.list_tools([*change.added, *change.replaced])
    if args.json:
        print_json({"added": list(change.added), "replaced": list(change.replaced),
                     "skipped": [{"name": n, "reason": r} for n, r in change.skipped], "file": str(servers.file),
                     **_tools_json(listed)})
        return
    for line in change.lines() or ["nothing to import: the file names no server"]:
        print(line)
    _warn(listed)


def cmd_mcp_add(args: argparse.Namespace, settings: Settings) -> int:
    before = args.rest[:args.rest.index("--")] if "--" in args.rest else args.rest
    args.json = args.json or "--json" in before  # an error below still answers in JSON when asked to
    args = _add_arguments(args)
    if args.url is None and not args.command:
        raise McpConfigError("give the server's command after -- (stdio) or --url URL (HTTP)")
    if args.url is not None and args.command:
        raise McpConfigError("give a command or --url, not both")
    if args.header and args.url is None:
        raise McpConfigError("--header is for --url servers; a stdio server takes --env")
    if (args.env or args.cwd) and args.url is not None:
        raise McpConfigError("--env and --cwd are for stdio servers; an HTTP server takes --header")
    server = server_from_fields(
        args.name, command=args.command[0] if args.command else None, args=args.command[1:],
        env=_pairs(args.env, "--env", from_environment=True), cwd=args.cwd, url=args.url,
        headers=_pairs(args.header, "--header", from_environment=False))
    servers = McpServers.of(settings)
    _report(servers.add(server, replace_existing=args.replace), args, servers)
    return EXIT_OK


def _line(row: dict[str, Any]) -> str:
    if row["transport"] == "http":
        target = row["url"]
        extra = " ".join(f"{k}: {v}" for k, v in row["headers"].items())
    else:
        target = shlex.join([row["command"], *row["args"]])
        extra = " ".join(f"{k}={v}" for k, v in row["env"].items())
        if row["cwd"]:
            extra = f"cwd={row['cwd']} {extra}".strip()
    flag = "  (disabled)" if row["disabled"] else ""
    return f"{row['name']}  {row['transport']}  {target}" + (f"  [{extra}]" if extra else "") + flag


def cmd_mcp_list(args: argparse.Namespace, settings: Settings) -> int:
    servers = McpServers.of(settings)
    rows = servers.shown()
    if args.json:
        print_json({"file": str(servers.file), "servers": rows})
        return EXIT_OK
    if not rows:
        print("no MCP servers; add one with `edgemind mcp add NAME -- COMMAND` or `edgemind mcp import FILE`")
    for row in rows:
        print(_line(row))
    return EXIT_OK


def cmd_mcp_remove(args: argparse.Namespace, settings: Settings) -> int:
    gone = McpServers.of(settings).remove(args.name)
    if args.json:
        print_json({"removed": gone.name})
    else:
        print(f"removed {gone.name}")
    return EXIT_OK


def cmd_mcp_switch(args: argparse.Namespace, settings: Settings) -> int:
    servers = McpServers.of(settings)
    server = servers.set_disabled(args.name, args.disabled)
    listed = [] if server.disabled else servers.list_tools([server.name])
    if args.json:
        print_json({"name": server.name, "disabled": server.disabled,
                     **(_tools_json(listed) if not server.disabled else {})})
    else:
        print(f"{'disabled' if server.disabled else 'enabled'} {server.name}")
        _warn(listed)
    return EXIT_OK


def cmd_mcp_import(args: argparse.Namespace, settings: Settings) -> int:
    servers = McpServers.of(settings)
    _report(servers.import_file(args.file, replace_existing=args.replace), args, servers)
    return EXIT_OK
