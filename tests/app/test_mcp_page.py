"""The MCP servers page: the same service as `edgemind mcp`, secrets masked on screen and kept out of mcp.json."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgemind.app.context import AppContext
from edgemind.app.mcp_page import McpPage, McpServerDialog
from edgemind.app.settings_page import SettingsPage
from edgemind.core.mcp.config import load_servers
from edgemind.core.mcp.definitions import CACHE_FILE
from edgemind.core.mcp.service import McpServers, server_from_fields
from edgemind.core.settings import Settings, load_settings
from tests.keyring_standin import StandInOSKeyring, stand_in_keyring
from tests.support.mcp_peers import BIN

FILES = Path(__file__).resolve().parents[1] / "core" / "mcp_files"
SECRET = "ghp_pageSecret0123456789"


@pytest.fixture
def ring() -> Iterator[StandInOSKeyring]:
    with stand_in_keyring() as stand_in:
        yield stand_in


@pytest.fixture
def page_settings(tmp_path: Path) -> Settings:
    # no models or engine: the page needs only the data folder ("auto": the keyring stand-in when a test has one)
    return load_settings(env={"EDGEMIND_HOME": str(tmp_path / "home"), "EDGEMIND_AUDIT_KEY_STORE": "auto"})


@pytest.fixture
def page(qtbot, page_settings: Settings) -> Iterator[McpPage]:
    ctx = AppContext(page_settings)
    shown = McpPage(ctx)
    qtbot.addWidget(shown)
    qtbot.waitUntil(lambda: shown.note.text() != "", timeout=10_000)
    yield shown
    ctx.shutdown()


def cells(page: McpPage) -> list[list[str]]:
    return [[page.table.item(r, c).text() for c in range(page.table.columnCount())]
            for r in range(page.table.rowCount())]


def test_the_page_lists_configured_servers_with_secrets_masked(qtbot, page: McpPage, ring: StandInOSKeyring) -> None:
    McpServers.of(page.ctx.settings).add(server_from_fields(
        "github", command="docker", args=["run", "-i", "ghcr.io/github/github-mcp-server"],
        env={"GITHUB_PERSONAL_ACCESS_TOKEN": SECRET, "TZ": "UTC"}))
    with qtbot.waitSignal(page.servers_did_load, timeout=10_000):
        page.refresh()
    assert cells(page) == [["github", "stdio", "docker run -i ghcr.io/github/github-mcp-server",
                            "GITHUB_PERSONAL_ACCESS_TOKEN=***, TZ=UTC"]]
    assert SECRET not in str(cells(page)) and SECRET not in page.note.text()


def test_adding_by_command_keeps_the_secret_in_the_keyring(qtbot, page: McpPage, ring: StandInOSKeyring) -> None:
    dialog = McpServerDialog(http=False, parent=page)
    dialog.name.setText("mcp-server-time")
    dialog.command.setText('uvx mcp-server-time "--local-timezone=Europe/Lisbon"')
    dialog.env.setPlainText("TZ=UTC\n\n")
    dialog.secret_name.setText("API_TOKEN")
    dialog.secret_value.setText(SECRET)
    with qtbot.waitSignal(page.servers_did_load, timeout=10_000) as loaded:
        page.add(http=False, dialog=dialog)
    assert isinstance(loaded.args[0], list)
    assert cells(page) == [["mcp_server_time", "stdio", "uvx mcp-server-time --local-timezone=Europe/Lisbon",
                            "TZ=UTC, API_TOKEN=***"]]
    assert "added mcp_server_time" in page.note.text()
    home = page.ctx.settings.home
    assert SECRET not in (home / "mcp.json").read_text(encoding="utf-8")
    assert list(ring.items.values()) == [SECRET]
    assert load_servers(home)[0].env == {"TZ": "UTC", "API_TOKEN": SECRET}


@pytest.mark.parametrize(("url", "says"), [("ftp://example.org/mcp", "not an http:// or https://"),
                                           ("", "not an http:// or https://")])
def test_a_bad_url_is_one_line_on_the_page_and_nothing_is_written(qtbot, page: McpPage, url: str, says: str) -> None:
    dialog = McpServerDialog(http=True, parent=page)
    dialog.name.setText("docs")
    dialog.url.setText(url)
    with qtbot.waitSignal(page.servers_did_load, timeout=10_000):
        page.add(http=True, dialog=dialog)
    assert says in page.note.text() and "\n" not in page.note.text()
    assert not (page.ctx.settings.home / "mcp.json").exists()


def test_importing_a_file_shows_each_server_and_a_clash_needs_replace(qtbot, page: McpPage,
                                                                      ring: StandInOSKeyring) -> None:
    with qtbot.waitSignal(page.servers_did_load, timeout=10_000):
        page.import_file(str(FILES / "lmstudio" / "mcp.json"))
    assert [row[:2] for row in cells(page)] == [["hf_mcp_server", "http"], ["playwright", "stdio"]]
    assert cells(page)[0][3] == "Authorization: ***"
    changed = page.ctx.settings.home.parent / "mcp.json"
    changed.write_text('{"mcpServers": {"playwright": {"command": "npx", "args": ["@playwright/mcp@1.0"]}}}')
    with qtbot.waitSignal(page.servers_did_load, timeout=10_000):
        page.import_file(str(changed))
    assert "already configured: playwright" in page.note.text()
    page.import_replace.setChecked(True)
    with qtbot.waitSignal(page.servers_did_load, timeout=10_000):
        page.import_file(str(changed))
    assert cells(page)[1][2] == "npx @playwright/mcp@1.0"


def test_removing_a_server_forgets_its_secret(qtbot, page: McpPage, ring: StandInOSKeyring) -> None:
    McpServers.of(page.ctx.settings).add(server_from_fields("exa", command="npx", env={"EXA_API_KEY": SECRET}))
    with qtbot.waitSignal(page.servers_did_load, timeout=10_000):
        page.refresh()
    page.table.selectRow(0)
    assert page.remove_button.isEnabled()
    with qtbot.waitSignal(page.servers_did_load, timeout=10_000):
        page.remove_selected()
    assert cells(page) == [] and ring.items == {}
    assert "Removed exa" in page.note.text()


def test_the_settings_page_holds_the_mcp_servers_page(qtbot, page_settings: Settings) -> None:
    ctx = AppContext(page_settings)
    settings_page = SettingsPage(ctx)
    qtbot.addWidget(settings_page)
    assert isinstance(settings_page.mcp, McpPage)
    ctx.shutdown()


def test_switching_a_server_off_and_on(qtbot, page: McpPage) -> None:
    McpServers(page.ctx.settings.home, "file").add(server_from_fields("time", command="uvx"))
    with qtbot.waitSignal(page.servers_did_load, timeout=10_000):
        page.refresh()
    page.table.selectRow(0)
    with qtbot.waitSignal(page.servers_did_load, timeout=10_000):
        page.switch_selected()
    assert cells(page)[0][0] == "time (disabled)" and load_servers(page.ctx.settings.home)[0].disabled
    page.table.selectRow(0)
    with qtbot.waitSignal(page.servers_did_load, timeout=10_000):
        page.switch_selected()
    assert cells(page)[0][0] == "time" and not load_servers(page.ctx.settings.home)[0].disabled


def test_adding_a_server_lists_its_tools_in_a_worker_and_a_broken_one_is_one_line(qtbot, page: McpPage) -> None:
    dialog = McpServerDialog(http=False, parent=page)
    dialog.name.setText("time")
    dialog.command.setText(shlex.join([str(BIN / "mcp-server-time"), "--local-timezone", "UTC"]))
    with qtbot.waitSignal(page.tools_did_list, timeout=60_000) as listed:
        page.add(http=False, dialog=dialog)
    assert [(t.name, t.tools) for t in listed.args[0]] == [("time", 2)]
    qtbot.waitUntil(lambda: "time: 2 tools." in page.note.text(), timeout=10_000)
    assert "get_current_time" in (page.ctx.settings.home / CACHE_FILE).read_text(encoding="utf-8")
    broken = McpServerDialog(http=False, parent=page)
    broken.name.setText("broken")
    broken.command.setText("edgemind-no-such-command")
    with qtbot.waitSignal(page.tools_did_list, timeout=60_000):
        page.add(http=False, dialog=broken)
    qtbot.waitUntil(lambda: "'broken' could not start" in page.note.text(), timeout=10_000)
    assert "\n" not in page.note.text() and [r[0] for r in cells(page)] == ["time", "broken"]
