"""The global quick-ask shortcut: for real on an X server (Xvfb, keys pressed by xdotool through XTest), and the
parts every desktop shares (the setting, the key codes Windows and macOS get, which mechanism a desktop uses).

The X11 tests skip with the reason where Xvfb, xdotool or python-xlib is missing (apt install xvfb xdotool). macOS's
AppKit monitor is not tested here: no Mac; only its key mapping is.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgemind.app.context import AppContext
from edgemind.app.hotkey import DEFAULT_HOTKEY, HotkeyError, KeyCombo, hotkey_note, mechanism, parse_combo
from edgemind.app.mac_hotkey import key_char
from edgemind.app.quick_ask import QuickAsk
from edgemind.app.tray import WindowsHotkey
from edgemind.app.x11_hotkey import X11Hotkey, xlib_missing
from edgemind.core.errors import ConfigError
from edgemind.core.settings import Settings, load_settings
from tests.support.xvfb import NO_XVFB, xvfb

NO_X = (NO_XVFB or ("xdotool is not installed (apt install xdotool)" if shutil.which("xdotool") is None else
                   xlib_missing()))
needs_x = pytest.mark.skipif(NO_X is not None, reason=NO_X or "")


@pytest.fixture
def xserver() -> Iterator[str]:
    """A private Xvfb display (":N"), stopped after the test."""
    with xvfb("800x600x24") as display:
        yield display


def press(display: str, keys: str) -> None:
    """Press keys as a user would: xdotool sends them through the XTest extension, so the server routes them."""
    subprocess.run(["xdotool", "key", keys], env={"DISPLAY": display}, check=True, timeout=20)


@pytest.fixture
def ctx(settings: Settings) -> Iterator[AppContext]:
    context = AppContext(settings)  # the popup needs no engine to open
    yield context
    context.shutdown()


@needs_x
def test_the_shortcut_pressed_on_x11_opens_the_quick_ask_popup(qtbot, xserver, ctx, settings) -> None:
    quick = QuickAsk(ctx)
    qtbot.addWidget(quick)
    hotkey = X11Hotkey.install(parse_combo(settings.quick_ask_hotkey), quick.popup, xserver)
    assert hotkey is not None
    try:
        assert not quick.isVisible()
        press(xserver, "ctrl+alt+space")
        qtbot.waitUntil(quick.isVisible, timeout=10_000)
        assert quick.input.hasFocus() or quick.input.isVisible()
        quick.hide()
        press(xserver, "ctrl+space")  # not the combination: nothing opens
        press(xserver, "alt+space")
        qtbot.wait(400)
        assert not quick.isVisible()
        press(xserver, "Num_Lock")  # Num Lock on: X matches modifiers exactly, the grab covers it too
        press(xserver, "ctrl+alt+space")
        qtbot.waitUntil(quick.isVisible, timeout=10_000)
    finally:
        hotkey.uninstall()


@needs_x
def test_a_shortcut_another_program_holds_is_one_line_and_the_app_goes_on(qtbot, xserver, caplog) -> None:
    hits: list[int] = []
    first = X11Hotkey.install(parse_combo("Super+Shift+E"), lambda: hits.append(1), xserver)
    assert first is not None
    try:
        with caplog.at_level(logging.WARNING):
            second = X11Hotkey.install(parse_combo("Super+Shift+E"), lambda: None, xserver)
        assert second is None
        lines = [r.getMessage() for r in caplog.records if "x11_hotkey" in r.name]
        assert lines == ["Shift+Super+E is taken by another program: no global quick-ask shortcut (choose another "
                         "in Settings)"]
        press(xserver, "super+shift+e")  # the first holder still gets it
        qtbot.waitUntil(lambda: bool(hits), timeout=10_000)
    finally:
        first.uninstall()
    again = X11Hotkey.install(parse_combo("Super+Shift+E"), lambda: None, xserver)  # released on uninstall
    assert again is not None
    again.uninstall()


@needs_x
def test_no_x_server_is_a_one_line_warning(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        assert X11Hotkey.install(parse_combo(DEFAULT_HOTKEY), lambda: None, ":199") is None
    assert any("cannot open the X display :199" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("text", "combo"), [
    ("Ctrl+Alt+Space", KeyCombo(frozenset({"ctrl", "alt"}), "space")),
    ("super + shift + e", KeyCombo(frozenset({"super", "shift"}), "e")),
    ("Control+F12", KeyCombo(frozenset({"ctrl"}), "f12")),
    ("Cmd+Alt+1", KeyCombo(frozenset({"super", "alt"}), "1")),
])
def test_a_combination_parses_and_the_setting_accepts_it(text: str, combo: KeyCombo, tmp_path: Path) -> None:
    assert parse_combo(text) == combo
    loaded = load_settings(env={"EDGEMIND_HOME": str(tmp_path), "EDGEMIND_QUICK_ASK_HOTKEY": text})
    assert loaded.quick_ask_hotkey == text


@pytest.mark.parametrize(("text", "says"), [
    ("Space", "modifiers and one key joined by +"),
    ("Ctrl+Hyper+K", "'hyper' is not a modifier"),
    ("Ctrl+Alt+Enter", "the key must be a letter, a digit, Space or F1-F12"),
    ("Ctrl++", "modifiers and one key joined by +"),
    ("Ctrl+F13", "the key must be"),
])
def test_a_bad_combination_is_refused_in_one_line_by_the_app_and_the_setting(text: str, says: str,
                                                                             tmp_path: Path) -> None:
    with pytest.raises(HotkeyError, match=says.replace("+", r"\+")):
        parse_combo(text)
    with pytest.raises(ConfigError) as refused:
        load_settings(env={"EDGEMIND_HOME": str(tmp_path), "EDGEMIND_QUICK_ASK_HOTKEY": text})
    message = str(refused.value)
    assert "\n" not in message and ("quick_ask_hotkey" in message or "EDGEMIND_QUICK_ASK_HOTKEY" in message)


def test_windows_and_macos_get_the_codes_of_the_same_combination() -> None:
    assert WindowsHotkey.codes(parse_combo("Ctrl+Alt+Space")) == (0x4000 | 0x0002 | 0x0001, 0x20)
    assert WindowsHotkey.codes(parse_combo("Win+Shift+E")) == (0x4000 | 0x0008 | 0x0004, ord("E"))
    assert WindowsHotkey.codes(parse_combo("Ctrl+F2")) == (0x4000 | 0x0002, 0x71)
    assert key_char(parse_combo("Ctrl+Alt+Space")) == " " and key_char(parse_combo("Cmd+K")) == "k"
    assert key_char(parse_combo("Ctrl+F1")) == "\uf704"


@pytest.mark.parametrize(("platform", "environ", "qt", "kind"), [
    ("win32", {}, "windows", "windows"),
    ("darwin", {}, "cocoa", "macos"),
    ("linux", {"DISPLAY": ":0"}, "xcb", "x11"),
    ("linux", {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "xcb", None),  # XWayland: no global grab
    ("linux", {"DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland"}, "wayland", None),
    ("linux", {"DISPLAY": ":0"}, "offscreen", None),  # the tests' own platform grabs nothing
])
def test_each_desktop_gets_its_mechanism(platform: str, environ: dict[str, str], qt: str, kind: str | None) -> None:
    assert mechanism(platform, environ, qt) == kind


def test_wayland_is_told_in_one_line_to_bind_edgemind_quick() -> None:
    note = hotkey_note("linux", {"WAYLAND_DISPLAY": "wayland-0"}, "Ctrl+Alt+Space")
    assert note == ("Wayland lets no app take a global shortcut: bind `edgemind quick` to Ctrl+Alt+Space in your "
                    "desktop's keyboard settings")
    assert hotkey_note("linux", {"DISPLAY": ":0"}) is None and hotkey_note("win32", {}) is None


def test_the_settings_page_saves_a_shortcut_and_refuses_a_bad_one_in_one_line(qtbot, ctx, settings) -> None:
    from edgemind.app.settings_page import SettingsPage

    page = SettingsPage(ctx)
    qtbot.addWidget(page)
    assert page.quick_ask_hotkey.text() == DEFAULT_HOTKEY
    page.quick_ask_hotkey.setText("Ctrl+Hyper+K")
    page.save()
    qtbot.waitUntil(lambda: page.status.text().startswith("Not saved"), timeout=10_000)
    assert "quick_ask_hotkey" in page.status.text() and "\n" not in page.status.text()
    page.quick_ask_hotkey.setText("Super+Shift+E")
    saved: list = []
    page.settings_did_save.connect(saved.append)
    page.save()
    qtbot.waitUntil(lambda: bool(saved), timeout=10_000)
    assert saved[0].quick_ask_hotkey == "Super+Shift+E"
    assert 'quick_ask_hotkey = "Super+Shift+E"' in (settings.home / "settings.toml").read_text(encoding="utf-8")
