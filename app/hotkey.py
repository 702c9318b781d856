"""The global quick-ask shortcut: the key combination (the `quick_ask_hotkey` setting, "Ctrl+Alt+Space" by default),
which mechanism registers it on this desktop, and the one line said where none can.

Windows: RegisterHotKey (tray.py). X11: XGrabKey on the root window through python-xlib (x11_hotkey.py). macOS: an
AppKit global key monitor through pyobjc (mac_hotkey.py; needs the Accessibility permission; not tested here, no Mac).
Wayland gives no application a system-wide key grab, by design: the desktop's own keyboard settings run
`edgemind quick` instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from edgemind.core.errors import EdgeMindError

QUICK_COMMAND = "edgemind quick"
DEFAULT_HOTKEY = "Ctrl+Alt+Space"
MODIFIERS = {"ctrl": "ctrl", "control": "ctrl", "alt": "alt", "shift": "shift", "super": "super", "meta": "super",
             "win": "super", "cmd": "super"}
NAMED_KEYS = ("space", *(f"f{n}" for n in range(1, 13)))


class HotkeyError(EdgeMindError):
    """A key combination that cannot be a global shortcut, or one another program holds."""


@dataclass(frozen=True, slots=True)
class KeyCombo:
    modifiers: frozenset[str]  # of "ctrl", "alt", "shift", "super"
    key: str  # "space", "f1".."f12", or one lower-case letter or digit

    def label(self) -> str:
        order = [m for m in ("ctrl", "alt", "shift", "super") if m in self.modifiers]
        return "+".join([*(m.capitalize() for m in order), self.key.capitalize() if len(self.key) > 1 else
                         self.key.upper()])


def parse_combo(text: str) -> KeyCombo:
    """"Ctrl+Alt+Space" -> KeyCombo; at least one modifier (a bare key would swallow that key everywhere)."""
    parts = [p.strip().lower() for p in text.split("+")]
    if len(parts) < 2 or not all(parts):
        raise HotkeyError(f"quick-ask shortcut {text!r}: write modifiers and one key joined by +, like "
                          f"{DEFAULT_HOTKEY}")
    *mods, key = parts
    unknown = [m for m in mods if m not in MODIFIERS]
    if unknown:
        raise HotkeyError(f"quick-ask shortcut {text!r}: {unknown[0]!r} is not a modifier (Ctrl, Alt, Shift, Super)")
    if not (key in NAMED_KEYS or len(key) == 1 and key.isascii() and key.isalnum()):
        raise HotkeyError(f"quick-ask shortcut {text!r}: the key must be a letter, a digit, Space or F1-F12, "
                          f"not {key!r}")
    return KeyCombo(frozenset(MODIFIERS[m] for m in mods), key)


def is_wayland(environ: Mapping[str, str]) -> bool:
    return bool(environ.get("WAYLAND_DISPLAY")) or environ.get("XDG_SESSION_TYPE") == "wayland"


def mechanism(platform: str, environ: Mapping[str, str], qt_platform: str) -> str | None:
    """Which global-hotkey mechanism fits: "windows", "x11", "macos", or None (Wayland; no screen; offscreen).

    X11 only when Qt itself draws on X (qt_platform "xcb") and the session is not Wayland: an app on XWayland
    would grab keys only while an X window has focus, which is no global shortcut."""
    if platform == "win32":
        return "windows"
    if platform == "darwin":
        return "macos"
    if qt_platform == "xcb" and environ.get("DISPLAY") and not is_wayland(environ):
        return "x11"
    return None


def hotkey_note(platform: str, environ: Mapping[str, str], combo: str = DEFAULT_HOTKEY) -> str | None:
    """None where EdgeMind registers the shortcut itself; else the one line that says how to get one."""
    if platform in ("win32", "darwin"):
        return None
    if is_wayland(environ):
        return (f"Wayland lets no app take a global shortcut: bind `{QUICK_COMMAND}` to {combo} in your desktop's "
                "keyboard settings")
    if environ.get("DISPLAY"):
        return None  # X11: x11_hotkey grabs it (or says in its own line why it could not)
    return f"no desktop session: for a quick-ask shortcut, bind `{QUICK_COMMAND}` to a key in your desktop's settings"
