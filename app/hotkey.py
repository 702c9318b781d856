"""What the global quick-ask shortcut is on this desktop, in one line: Windows has ours (Ctrl+Alt+Space, tray.py);
elsewhere the desktop's own keyboard settings run `edgemind quick`. Words only: it registers nothing."""

from __future__ import annotations

from collections.abc import Mapping

QUICK_COMMAND = "edgemind quick"


def hotkey_note(platform: str, environ: Mapping[str, str]) -> str | None:
    """None where EdgeMind registers the hotkey itself (Windows); else the line that says how to get one.

    Wayland gives no application a system-wide key grab, by design. On X11 one is possible (XGrabKey on the root
    window, through python-xlib or libX11 by ctypes), but it is left out: a grab another program holds is reported
    through Xlib's process-wide error handler, which by default ends the process, so it needs testing on a real X
    server, which this project's checks do not have; every X11 desktop's keyboard settings bind a command already.
    macOS needs an accessibility permission and a Carbon or AppKit binding not built or tested on a Mac."""
    if platform == "win32":
        return None
    if platform == "darwin":
        return (f"no global quick-ask shortcut on macOS yet: run `{QUICK_COMMAND}` from a Shortcuts action bound to "
                "a key (System Settings > Keyboard > Keyboard Shortcuts)")
    if environ.get("WAYLAND_DISPLAY") or environ.get("XDG_SESSION_TYPE") == "wayland":
        return (f"Wayland lets no app take a global shortcut: bind `{QUICK_COMMAND}` to a key in your desktop's "
                "keyboard settings")
    return f"for a global quick-ask shortcut, bind `{QUICK_COMMAND}` to a key in your desktop's keyboard settings"
