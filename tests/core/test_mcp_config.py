"""MCP configuration: the `mcpServers` shape validated into records, stored with secrets out of plain files,
other apps' config files imported, and the `edgemind mcp` commands run as a user runs them."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgemind.core.cli.main import main as cli_main
from edgemind.core.mcp.config import McpConfigError, McpServerConfig, load_servers, normalise_name, parse_servers
from edgemind.core.mcp.secrets import Field, McpSecrets, is_secret
from edgemind.core.mcp.service import McpServers, server_from_fields
from edgemind.core.models.remote_keys import RemoteKeys
from tests.keyring_standin import StandInOSKeyring, stand_in_keyring

FILES = Path(__file__).parent / "mcp_files"
EDGEMIND = [sys.executable, "-m", "edgemind.core.cli"]
TOKEN = "ghp_secretValue0123456789"


@pytest.fixture
def ring() -> Iterator[StandInOSKeyring]:
    with stand_in_keyring() as stand_in:
        yield stand_in


def stored_text(home: Path) -> str:
    return (home / "mcp.json").read_text(encoding="utf-8")


# ---- the shape ---------------------------------------------------------------------------------------------------
def test_parse_servers_reads_stdio_and_http_entries_and_normalises_names() -> None:
    servers = parse_servers({"mcpServers": {
        "mcp-server-time": {"command": "uvx", "args": ["mcp-server-time", "--local-timezone=UTC"]},
        "Remote Docs": {"url": "https://example.org/mcp", "headers": {"Authorization": "Bearer x"}},
    }}, "test")
    assert servers == [
        McpServerConfig(name="mcp_server_time", command="uvx", args=("mcp-server-time", "--local-timezone=UTC")),
        McpServerConfig(name="remote_docs", url="https://example.org/mcp", headers={"Authorization": "Bearer x"}),
    ]
    assert [s.transport for s in servers] == ["stdio", "http"]


@pytest.mark.parametrize(("raw", "name"), [("mcp-server-time", "mcp_server_time"), ("My  Server!", "my_server"),
                                           ("a__b", "a_b"), ("_x_", "x")])
def test_server_names_keep_only_lower_case_letters_digits_and_single_underscores(raw: str, name: str) -> None:
    assert normalise_name(raw) == name


def test_two_names_that_normalise_alike_are_one_error() -> None:
    with pytest.raises(McpConfigError, match="two servers are named 'git'"):
        parse_servers({"mcpServers": {"git": {"command": "a"}, "GIT": {"command": "b"}}}, "test")


def test_load_servers_is_empty_without_a_file(tmp_path: Path) -> None:
    assert load_servers(tmp_path) == []


def test_a_damaged_file_is_one_error_and_stays_as_it_was(tmp_path: Path) -> None:
    (tmp_path / "mcp.json").write_text('{"mcpServers": {', encoding="utf-8")
    with pytest.raises(McpConfigError, match="not valid JSON"):
        load_servers(tmp_path)
    with pytest.raises(McpConfigError, match="not valid JSON"):  # nor is it overwritten by an add
        McpServers(tmp_path, "file").add(server_from_fields("t", command="uvx"))
    assert (tmp_path / "mcp.json").read_text(encoding="utf-8") == '{"mcpServers": {'


@pytest.mark.parametrize(("field", "name", "secret"), [
    ("env", "GITHUB_PERSONAL_ACCESS_TOKEN", True), ("env", "OPENAI_API_KEY", True), ("env", "db_password", True),
    ("env", "AWS_SECRET_ACCESS_KEY", True), ("env", "TZ", False), ("env", "NODE_ENV", False),
    ("headers", "X-Anything", True), ("headers", "Authorization", True)])
def test_which_values_are_secrets(field: Field, name: str, secret: bool) -> None:
    assert is_secret(field, name) is secret


# ---- storage and secrets -----------------------------------------------------------------------------------------
def test_a_secret_goes_to_the_keyring_never_into_mcp_json_and_comes_back_on_load(
        tmp_path: Path, ring: StandInOSKeyring) -> None:
    servers = McpServers(tmp_path, "auto")
    servers.add(server_from_fields("GitHub", command="docker", args=["run", "-i", "ghcr.io/github/github-mcp-server"],
                                   env={"GITHUB_PERSONAL_ACCESS_TOKEN": TOKEN, "TZ": "UTC"}))
    assert TOKEN not in stored_text(tmp_path)
    assert '"TZ": "UTC"' in stored_text(tmp_path)  # a plain value stays readable in the file
    assert list(ring.items.values()) == [TOKEN]
    assert not (tmp_path / "mcp_secrets.json").exists()
    assert stat.S_IMODE((tmp_path / "mcp.json").stat().st_mode) == 0o600 or os.name == "nt"
    [loaded] = load_servers(tmp_path)
    assert loaded == McpServerConfig(name="github", command="docker",
                                     args=("run", "-i", "ghcr.io/github/github-mcp-server"),
                                     env={"GITHUB_PERSONAL_ACCESS_TOKEN": TOKEN, "TZ": "UTC"})
    assert servers.shown()[0]["env"] == {"GITHUB_PERSONAL_ACCESS_TOKEN": "***", "TZ": "UTC"}


def test_without_a_keyring_a_secret_goes_to_a_private_file_not_mcp_json(tmp_path: Path) -> None:
    McpServers(tmp_path, "file").add(server_from_fields("hf", url="https://huggingface.co/mcp",
                                                        headers={"Authorization": "Bearer hf_x1"}))
    assert "hf_x1" not in stored_text(tmp_path)
    secrets = tmp_path / "mcp_secrets.json"
    assert "hf_x1" in secrets.read_text(encoding="utf-8")
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600 or os.name == "nt"
    assert load_servers(tmp_path)[0].headers == {"Authorization": "Bearer hf_x1"}


def test_a_secret_missing_from_the_keyring_is_one_error_naming_server_and_field(
        tmp_path: Path, ring: StandInOSKeyring) -> None:
    McpServers(tmp_path, "auto").add(server_from_fields("exa", command="npx", env={"EXA_API_KEY": "k-1"}))
    before = stored_text(tmp_path)
    ring.items.clear()
    with pytest.raises(McpConfigError, match=r"server 'exa': env\.EXA_API_KEY .*keyring"):
        load_servers(tmp_path)
    assert stored_text(tmp_path) == before
    assert McpServers(tmp_path, "auto").shown()[0]["env"] == {"EXA_API_KEY": "***"}  # listing needs no secret


def test_remove_forgets_the_servers_secrets(tmp_path: Path, ring: StandInOSKeyring) -> None:
    servers = McpServers(tmp_path, "auto")
    servers.add(server_from_fields("exa", command="npx", env={"EXA_API_KEY": "k-1"}))
    servers.add(server_from_fields("hf", url="https://huggingface.co/mcp", headers={"Authorization": "Bearer b"}))
    servers.remove("exa")
    assert list(ring.items.values()) == ["Bearer b"]
    assert [s.name for s in load_servers(tmp_path)] == ["hf"]
    with pytest.raises(McpConfigError, match="no MCP server named 'exa'"):
        servers.remove("exa")


def test_a_name_clash_is_refused_unless_replaced_and_stale_secrets_are_forgotten(
        tmp_path: Path, ring: StandInOSKeyring) -> None:
    servers = McpServers(tmp_path, "auto")
    servers.add(server_from_fields("exa", command="npx", env={"EXA_API_KEY": "k-1"}))
    new = server_from_fields("exa", command="npx", args=["-y", "exa-mcp-server"], env={"EXA_TOKEN": "t-2"})
    with pytest.raises(McpConfigError, match="already configured: exa"):
        servers.add(new)
    assert load_servers(tmp_path)[0].env == {"EXA_API_KEY": "k-1"}
    change = servers.add(new, replace_existing=True)
    assert change.lines() == ["replaced exa"]
    assert load_servers(tmp_path) == [new]
    assert list(ring.items.values()) == ["t-2"]


def test_secret_stores_of_two_data_folders_never_share_an_entry(tmp_path: Path, ring: StandInOSKeyring) -> None:
    McpServers(tmp_path / "a", "auto").add(server_from_fields("exa", command="npx", env={"EXA_API_KEY": "a"}))
    McpServers(tmp_path / "b", "auto").add(server_from_fields("exa", command="npx", env={"EXA_API_KEY": "b"}))
    assert load_servers(tmp_path / "a")[0].env == {"EXA_API_KEY": "a"}
    assert load_servers(tmp_path / "b")[0].env == {"EXA_API_KEY": "b"}


# ---- importing other apps' files ---------------------------------------------------------------------------------
def test_import_claude_desktop_config(tmp_path: Path, ring: StandInOSKeyring) -> None:
    change = McpServers(tmp_path, "auto").import_file(FILES / "claude" / "claude_desktop_config.json")
    assert change.lines() == ["added filesystem", "added github", "added mcp_server_time"]
    servers = {s.name: s for s in load_servers(tmp_path)}
    assert servers["mcp_server_time"].args == ("mcp-server-time", "--local-timezone=Europe/Lisbon")
    assert servers["github"].env == {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_claudeTestToken0123456789"}
    assert "ghp_claudeTestToken" not in stored_text(tmp_path)


def test_import_lm_studio_mcp_json_with_an_http_server(tmp_path: Path, ring: StandInOSKeyring) -> None:
    McpServers(tmp_path, "auto").import_file(FILES / "lmstudio" / "mcp.json")
    hf, playwright = load_servers(tmp_path)
    assert (hf.name, hf.transport, hf.url) == ("hf_mcp_server", "http", "https://huggingface.co/mcp")
    assert hf.headers == {"Authorization": "Bearer hf_lmstudioTestToken42"}
    assert (playwright.transport, playwright.command) == ("stdio", "npx")
    assert "hf_lmstudioTestToken42" not in stored_text(tmp_path)


def test_import_jan_config_keeps_inactive_servers_disabled(tmp_path: Path, ring: StandInOSKeyring) -> None:
    McpServers(tmp_path, "auto").import_file(FILES / "jan" / "mcp_config.json")
    assert {s.name: s.disabled for s in load_servers(tmp_path)} == {"browsermcp": True, "exa": False, "fetch": True}


def test_import_anythingllm_skips_legacy_sse_servers_and_says_why(tmp_path: Path, ring: StandInOSKeyring) -> None:
    change = McpServers(tmp_path, "auto").import_file(FILES / "anythingllm" / "anythingllm_mcp_servers.json")
    assert change.added == ("face_generator", "mcp_youtube", "docs_remote")
    assert [name for name, _ in change.skipped] == ["legacy-remote"]
    assert "SSE" in change.lines()[-1]
    docs = {s.name: s for s in load_servers(tmp_path)}["docs_remote"]
    assert (docs.transport, docs.headers) == ("http", {"X-API-Key": "allm-TestKey-99"})


def test_importing_the_same_file_twice_changes_nothing_and_a_changed_one_needs_replace(
        tmp_path: Path, ring: StandInOSKeyring) -> None:
    servers = McpServers(tmp_path, "auto")
    servers.import_file(FILES / "jan" / "mcp_config.json")
    again = servers.import_file(FILES / "jan" / "mcp_config.json")
    assert again.added == () and len(again.skipped) == 3
    changed = tmp_path / "mcp_config.json"
    changed.write_text(json.dumps({"mcpServers": {"exa": {"command": "npx", "env": {"EXA_API_KEY": "new"}}}}))
    with pytest.raises(McpConfigError, match="already configured: exa"):
        servers.import_file(changed)
    servers.import_file(changed, replace_existing=True)
    assert {s.name: s for s in load_servers(tmp_path)}["exa"].env == {"EXA_API_KEY": "new"}


BAD_FILES: dict[str, tuple[bytes, str]] = {
    "not_json": (b"{mcpServers: nope", "not valid JSON"),
    "not_an_object": (b"[1, 2]", "expected a JSON object"),
    "no_servers": (b'{"globalShortcut": ""}', "no mcpServers"),
    "servers_not_an_object": (b'{"mcpServers": []}', "mcpServers must be an object"),
    "entry_not_an_object": (b'{"mcpServers": {"a": "npx"}}', "server 'a' must be an object"),
    "args_not_a_list": (b'{"mcpServers": {"a": {"command": "npx", "args": "-y x"}}}', "args must be a list"),
    "env_value_a_number": (b'{"mcpServers": {"a": {"command": "npx", "env": {"PORT": 80}}}}', "env.PORT must be"),
    "neither": (b'{"mcpServers": {"a": {"args": ["x"]}}}', "neither command nor url"),
    "both": (b'{"mcpServers": {"a": {"command": "npx", "url": "https://x.org/mcp"}}}', "both command and url"),
    "file_url": (b'{"mcpServers": {"a": {"url": "file:///etc/passwd"}}}', "not an http:// or https://"),
    "no_host": (b'{"mcpServers": {"a": {"url": "http:///mcp"}}}', "not an http:// or https://"),
    "credentials_in_url": (b'{"mcpServers": {"a": {"url": "https://me:pw@x.org/mcp"}}}', "user name or password"),
    "bad_port": (b'{"mcpServers": {"a": {"url": "https://x.org:99999/mcp"}}}', "not an http:// or https://"),
    "header_line_break": (b'{"mcpServers": {"a": {"url": "https://x.org/mcp", "headers": {"X": "a\\r\\nHost: evil"}}}}',
                          "headers.X contains a line break"),
    "header_bad_name": (b'{"mcpServers": {"a": {"url": "https://x.org/mcp", "headers": {"X Y:": "1"}}}}',
                        "not a valid HTTP header name"),
    "env_name_with_equals": (b'{"mcpServers": {"a": {"command": "npx", "env": {"A=B": "1"}}}}',
                             "not a valid variable name"),
    "nul_byte": (b'{"mcpServers": {"a": {"command": "npx\\u0000rm"}}}', "NUL byte"),
    "unknown_type": (b'{"mcpServers": {"a": {"type": "carrier-pigeon", "url": "https://x.org"}}}',
                     "unknown transport type"),
    "not_utf8": (b'{"mcpServers": {"a": {"command": "\xff"}}}', "not valid JSON"),
    "huge": (b'{"mcpServers": {}, "pad": "' + b"x" * 1_000_001 + b'"}', "larger than 1 MB"),
    "reference_lookalike": (b'{"mcpServers": {"a": {"command": "npx", "env": {"X": "edgemind-secret:keyring"}}}}',
                            "keeps for its own secret references"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_import_file_is_one_error_and_writes_nothing(tmp_path: Path, case: str) -> None:
    home = tmp_path / "home"
    servers = McpServers(home, "file")
    servers.add(server_from_fields("keep", command="uvx", args=["mcp-server-time"]))
    before = stored_text(home)
    data, says = BAD_FILES[case]
    bad = tmp_path / "mcp.json"
    bad.write_bytes(data)
    with pytest.raises(McpConfigError, match=says) as caught:
        servers.import_file(bad)
    assert "\n" not in str(caught.value)
    assert stored_text(home) == before
    assert not (home / "mcp_secrets.json").exists()


# ---- the `edgemind mcp` commands ---------------------------------------------------------------------------------
@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of the `edgemind` command, in this process (for cli_main) and for a child: its own data
    folder, secrets in a 0600 file (never the keyring of whoever runs the tests)."""
    monkeypatch.setenv("EDGEMIND_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EDGEMIND_AUDIT_KEY_STORE", "file")
    return {k: v for k, v in os.environ.items() if not k.startswith("EDGEMIND_")} | {
        "EDGEMIND_HOME": str(tmp_path / "home"), "EDGEMIND_AUDIT_KEY_STORE": "file"}


def edgemind(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EDGEMIND, *args], env=env, capture_output=True, text=True, timeout=60)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The real CLI entry (argument parsing, error mapping) in this process: a child costs seconds on a busy box."""
    code = cli_main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_edgemind_command_adds_and_lists_servers_without_printing_a_secret(cli: dict[str, str]) -> None:
    add = edgemind(cli, "mcp", "add", "mcp-server-time", "--env", f"API_TOKEN={TOKEN}", "--env", "TZ=UTC", "--",
                   "uvx", "mcp-server-time", "--local-timezone=UTC")
    assert (add.returncode, add.stdout) == (0, "added mcp_server_time\n"), add.stderr
    listed = edgemind(cli, "mcp", "list", "--json")
    assert listed.returncode == 0 and TOKEN not in listed.stdout
    assert json.loads(listed.stdout)["servers"] == [{
        "name": "mcp_server_time", "transport": "stdio", "disabled": False, "command": "uvx",
        "args": ["mcp-server-time", "--local-timezone=UTC"], "env": {"API_TOKEN": "***", "TZ": "UTC"}, "cwd": None}]
    assert TOKEN not in (Path(cli["EDGEMIND_HOME"]) / "mcp.json").read_text(encoding="utf-8")


def test_cli_http_server_list_and_remove(cli: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "mcp", "add", "docs", "--url", "https://example.org/mcp", "--header",
                             "Authorization=Bearer abc", "--json")
    assert code == 0 and json.loads(out)["added"] == ["docs"], err
    code, out, _ = run_cli(capsys, "mcp", "add", "--cwd", "/srv", "tools", "--env", "TZ=UTC", "--", "python", "-m",
                           "tools_server", "--json")  # options on both sides of NAME; --json after -- is an argument
    assert (code, out) == (0, "added tools\n")
    code, out, _ = run_cli(capsys, "mcp", "list")
    assert out.splitlines() == ["docs  http  https://example.org/mcp  [Authorization: ***]",
                                "tools  stdio  python -m tools_server --json  [cwd=/srv TZ=UTC]"]
    assert run_cli(capsys, "mcp", "remove", "docs")[:2] == (0, "removed docs\n")
    home = Path(cli["EDGEMIND_HOME"])
    assert "Bearer abc" not in (home / "mcp_secrets.json").read_text(encoding="utf-8")
    assert [s.name for s in load_servers(home)] == ["tools"]


def test_cli_enables_a_server_jan_had_switched_off(cli: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "mcp", "import", str(FILES / "jan" / "mcp_config.json"))[0] == 0
    assert run_cli(capsys, "mcp", "enable", "fetch")[:2] == (0, "enabled fetch\n")
    assert run_cli(capsys, "mcp", "disable", "exa", "--json")[:2] == (0, '{"name": "exa", "disabled": true}\n')
    home = Path(cli["EDGEMIND_HOME"])
    assert {s.name: s.disabled for s in load_servers(home)} == {"browsermcp": True, "exa": True, "fetch": False}
    assert {s.name: s for s in load_servers(home)}["exa"].env == {"EXA_API_KEY": "exa-janTestKey-7f3a"}
    assert run_cli(capsys, "mcp", "enable", "nothere")[0] == 2


def test_cli_import_reports_one_line_per_server(cli: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "mcp", "import", str(FILES / "anythingllm" / "anythingllm_mcp_servers.json"))
    assert code == 0, err
    assert out.splitlines() == [
        "added face_generator", "added mcp_youtube", "added docs_remote",
        "skipped legacy-remote: uses the legacy SSE transport; EdgeMind speaks stdio and streamable HTTP only"]


@pytest.mark.parametrize(("args", "says"), [
    (["add", "t", "--url", "ftp://example.org/mcp"], "not an http:// or https://"),
    (["add", "t"], "give the server's command after --"),
    (["add", "t", "--url", "https://x.org/mcp", "--", "npx"], "not both"),
    (["add", "t", "--env", "NOVALUE_XYZ_UNSET", "--", "npx"], "no NOVALUE_XYZ_UNSET in your environment"),
    (["add", "t", "--header", "Authorization", "--url", "https://x.org/mcp"], "expected NAME=VALUE"),
    (["add", "t", "python", "-m", "server"], "put the server's command after --"),
    (["add", "!!!", "--", "npx"], "has no letters or digits"),
    (["add", "keep", "--", "npx"], "already configured: keep"),
    (["remove", "nothere"], "no MCP server named 'nothere'"),
    (["import", "/nonexistent/claude_desktop_config.json"], "cannot read"),
    (["import", str(FILES)], "cannot read"),
])
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(cli: dict[str, str], capsys: pytest.CaptureFixture[str],
                                                             args: list[str], says: str) -> None:
    McpServers(Path(cli["EDGEMIND_HOME"]), "file").add(server_from_fields("keep", command="uvx"))
    before = stored_text(Path(cli["EDGEMIND_HOME"]))
    code, out, err = run_cli(capsys, "mcp", *args)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgemind: error: ") and says in lines[0], err
    assert stored_text(Path(cli["EDGEMIND_HOME"])) == before


def test_cli_bad_input_with_json_answers_one_json_error(cli: dict[str, str],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "mcp", "add", "t", "--json", "--url", "javascript:alert(1)")
    assert code == 2
    assert json.loads(out)["kind"] == "mcp_config"


def test_an_mcp_secret_and_a_remote_model_key_of_the_same_id_are_kept_apart(tmp_path: Path,
                                                                           ring: StandInOSKeyring) -> None:
    mcp_ref = McpSecrets(tmp_path).save("same", "mcp value")
    key_ref = RemoteKeys(tmp_path).save("same", "model key")
    assert McpSecrets(tmp_path).load("same", mcp_ref) == "mcp value"
    assert RemoteKeys(tmp_path).load("same", key_ref) == "model key"
    McpSecrets(tmp_path, "file").save("same", "in a file")
    assert (tmp_path / "mcp_secrets.json").exists() and not (tmp_path / "remote_keys.json").exists()
