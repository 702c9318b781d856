"""The global quick-ask shortcut on X11: XGrabKey on the root window through python-xlib, read in a thread of its own
that hands each press to the GUI thread through a queued Qt signal.

python-xlib (a Linux-only dependency) speaks the X protocol itself, so a grab another program already holds comes
back as a BadAccess error we catch and report in one line, where libX11's default handler would end the process.
The grab is made for each combination of Caps Lock and Num Lock too: X matches modifiers exactly, and a shortcut that
stops working while Num Lock is on is a broken shortcut.
"""

from __future__ import annotations

import logging
import select
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

from .hotkey import HotkeyError, KeyCombo

log = logging.getLogger(__name__)
POLL_S = 0.25  # how often the reading thread looks at its stop flag when no key comes


def xlib_missing() -> str | None:
    """None when python-xlib imports; else what to install."""
    try:
        import Xlib  # noqa: F401
    except ImportError:
        return "the X11 quick-ask shortcut needs python-xlib: pip install python-xlib"
    return None


class X11Hotkey(QObject):
    """Grabs `combo` on display `display_name` (None: $DISPLAY); `callback` runs on the GUI thread per press."""

    _pressed = Signal()

    def __init__(self, combo: KeyCombo, callback: Callable[[], None], display_name: str | None = None) -> None:
        super().__init__()
        from Xlib import XK, X, display, error  # lazy: python-xlib is a Linux-only dependency

        self.combo = combo
        self.callback = callback
        self._pressed.connect(self._fire, Qt.ConnectionType.QueuedConnection)
        try:
            self._display: Any = display.Display(display_name)
        except Exception as exc:  # Xlib raises its own DisplayError family, or OSError for a refused socket
            raise HotkeyError(f"cannot open the X display {display_name or '$DISPLAY'}: {exc}") from None
        self._root = self._display.screen().root
        name = "space" if combo.key == "space" else combo.key.upper() if combo.key.startswith("f") and \
            len(combo.key) > 1 else combo.key
        self.keycode = self._display.keysym_to_keycode(XK.string_to_keysym(name))
        if not self.keycode:
            self._display.close()
            raise HotkeyError(f"this keyboard has no {combo.key!r} key for the quick-ask shortcut")
        masks = {"ctrl": X.ControlMask, "alt": X.Mod1Mask, "shift": X.ShiftMask, "super": X.Mod4Mask}
        self.mask = 0
        for m in combo.modifiers:
            self.mask |= masks[m]
        catch = error.CatchError(error.BadAccess)
        for extra in (0, X.LockMask, X.Mod2Mask, X.LockMask | X.Mod2Mask):  # Caps Lock, Num Lock
            self._root.grab_key(self.keycode, self.mask | extra, True, X.GrabModeAsync, X.GrabModeAsync,
                                onerror=catch)
        self._display.sync()
        if catch.get_error() is not None:
            self._display.close()
            raise HotkeyError(f"{combo.label()} is taken by another program: no global quick-ask shortcut "
                              "(choose another in Settings)")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="x11-hotkey", daemon=True)
        self._thread.start()

    @classmethod
    def install(cls, combo: KeyCombo, callback: Callable[[], None],
                display_name: str | None = None) -> X11Hotkey | None:
        """The grab, or None with the reason logged in one line (no python-xlib, a taken key, no display)."""
        missing = xlib_missing()
        if missing:
            log.warning("%s", missing)
            return None
        try:
            return cls(combo, callback, display_name)
        except HotkeyError as exc:
            log.warning("%s", exc)
            return None

    def _read(self) -> None:
        from Xlib import X  # lazy: as above

        try:
            while not self._stop.is_set():
                ready, _w, _x = select.select([self._display], [], [], POLL_S)
                if not ready:
                    continue
                for _ in range(self._display.pending_events()):
                    event = self._display.next_event()
                    if event.type == X.KeyPress and event.detail == self.keycode:
                        self._pressed.emit()
        except Exception as exc:  # the X server went away: the shortcut ends, the app goes on
            log.warning("the X11 quick-ask shortcut stopped: %s", exc)
        finally:
            try:
                self._root.ungrab_key(self.keycode, X.AnyModifier)
                self._display.sync()
                self._display.close()
            except Exception:  # the connection is already gone: nothing left to release
                pass

    @Slot()
    def _fire(self) -> None:
        self.callback()

    def uninstall(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
