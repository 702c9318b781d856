"""The global quick-ask shortcut on macOS: AppKit's NSEvent key monitors through pyobjc (a macOS-only dependency).

Not tested: this project's checks run on Linux and Windows, with no Mac. Kept small and import-guarded so that a
missing pyobjc, or a refused Accessibility permission (macOS then delivers no global key events, silently), costs
the shortcut and nothing else: the tray's Quick ask and `edgemind quick` still work.
A global monitor sees keys while another app has focus; a local one while EdgeMind has.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .hotkey import KeyCombo

log = logging.getLogger(__name__)
# NSEventModifierFlag* bits, and NSF1FunctionKey (F1..F12 are consecutive code points)
FLAGS = {"shift": 1 << 17, "ctrl": 1 << 18, "alt": 1 << 19, "super": 1 << 20}
F1 = 0xF704


def key_char(combo: KeyCombo) -> str:
    """The character AppKit reports (charactersIgnoringModifiers) for the combination's key."""
    if combo.key == "space":
        return " "
    if len(combo.key) > 1:  # f1..f12
        return chr(F1 + int(combo.key[1:]) - 1)
    return combo.key


class MacHotkey:
    def __init__(self, monitors: list[Any], remove: Callable[[Any], None]) -> None:
        self.monitors, self._remove = monitors, remove

    @classmethod
    def install(cls, combo: KeyCombo, callback: Callable[[], None]) -> MacHotkey | None:
        try:
            from AppKit import NSEvent  # lazy: pyobjc exists on macOS only
        except ImportError:
            log.warning("the macOS quick-ask shortcut needs pyobjc: pip install pyobjc-framework-Cocoa")
            return None
        wanted = 0
        for m in combo.modifiers:
            wanted |= FLAGS[m]
        mask_all = sum(FLAGS.values())
        char = key_char(combo)
        key_down = 1 << 10  # NSEventMaskKeyDown

        def matches(event: Any) -> bool:
            return (int(event.modifierFlags()) & mask_all) == wanted and \
                str(event.charactersIgnoringModifiers() or "").lower() == char

        def on_global(event: Any) -> None:
            if matches(event):
                callback()

        def on_local(event: Any) -> Any:
            if matches(event):
                callback()
                return None  # swallowed: the shortcut is ours while EdgeMind has focus
            return event

        monitors = [NSEvent.addGlobalMonitorForEventsMatchingMask_handler_(key_down, on_global),
                    NSEvent.addLocalMonitorForEventsMatchingMask_handler_(key_down, on_local)]
        if monitors[0] is None:
            log.warning("macOS gave no global key monitor: allow EdgeMind in System Settings > Privacy & Security > "
                        "Accessibility")
        return cls([m for m in monitors if m is not None], NSEvent.removeMonitor_)

    def uninstall(self) -> None:
        for monitor in self.monitors:
            self._remove(monitor)
        self.monitors = []
