"""The tray icon and its menu (Quick ask, Open EdgeMind, Pause models, Quit), and the global quick-ask shortcut
(the `quick_ask_hotkey` setting: RegisterHotKey on Windows, XGrabKey on X11, an AppKit monitor on macOS; on Wayland
hotkey.py's one line says to bind `edgemind quick` in the desktop's settings)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractNativeEventFilter, QCoreApplication, QObject
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from .context import AppContext
from .hotkey import HotkeyError, KeyCombo, hotkey_note, mechanism, parse_combo
from .icon import app_icon
from .mac_hotkey import MacHotkey
from .x11_hotkey import X11Hotkey

log = logging.getLogger(__name__)


class Tray(QObject):
    def __init__(self, ctx: AppContext, open_main: Callable[[], None], quick_ask: Callable[[], None],
                 quit_app: Callable[[], None]) -> None:
        super().__init__(ctx)
        self.ctx = ctx
        self.available = QSystemTrayIcon.isSystemTrayAvailable()
        self.icon = QSystemTrayIcon(app_icon(), self)
        self.icon.setToolTip("EdgeMind")
        self.menu = QMenu()
        self.quick_action = QAction("Quick ask", self.menu)
        self.quick_action.triggered.connect(quick_ask)
        self.open_action = QAction("Open EdgeMind", self.menu)
        self.open_action.triggered.connect(open_main)
        self.pause_action = QAction("Pause models", self.menu, checkable=True)
        self.pause_action.toggled.connect(ctx.set_paused)
        self.quit_action = QAction("Quit", self.menu)
        self.quit_action.triggered.connect(quit_app)
        for action in (self.quick_action, self.open_action, self.pause_action):
            self.menu.addAction(action)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(
            lambda reason: quick_ask() if reason == QSystemTrayIcon.ActivationReason.Trigger else None)
        ctx.hooks.models_did_pause.connect(self._paused)
        if self.available:
            self.icon.show()
        else:
            log.info("no system tray on this desktop: closing the window quits EdgeMind")
        self.hotkey, self.hotkey_note = install_hotkey(ctx.settings.quick_ask_hotkey, quick_ask)
        if self.hotkey_note:
            log.info("%s", self.hotkey_note)
        self.quick_action.setToolTip(self.hotkey_note or (f"{ctx.settings.quick_ask_hotkey} anywhere" if self.hotkey
                                                          else ""))

    def close(self) -> None:
        """Hide the icon and give the shortcut back to the desktop."""
        self.icon.hide()
        if self.hotkey is not None:
            self.hotkey.uninstall()
            self.hotkey = None

    def _paused(self, paused: bool) -> None:
        self.pause_action.blockSignals(True)
        self.pause_action.setChecked(paused)
        self.pause_action.blockSignals(False)
        self.icon.setToolTip("EdgeMind (models paused)" if paused else "EdgeMind")

    def actions(self) -> list[str]:
        return [a.text() for a in self.menu.actions() if a.text()]


def install_hotkey(combo_text: str, callback: Callable[[], None]) -> tuple[Any, str | None]:
    """(the registered shortcut or None, the one line to log where there is none by design)."""
    qt_app = QGuiApplication.instance()
    qt_platform = qt_app.platformName() if isinstance(qt_app, QGuiApplication) else ""
    kind = mechanism(sys.platform, os.environ, qt_platform)
    note = hotkey_note(sys.platform, os.environ, combo_text)
    if kind is None:
        return None, note
    try:
        combo = parse_combo(combo_text)
    except HotkeyError as exc:
        return None, str(exc)
    if kind == "windows":
        return WindowsHotkey.install(callback, combo), note
    if kind == "macos":
        return MacHotkey.install(combo, callback), note
    return X11Hotkey.install(combo, callback), note


class WindowsHotkey(QAbstractNativeEventFilter):
    """Ctrl+Alt+Space anywhere in Windows opens the quick ask (RegisterHotKey, WM_HOTKEY)."""

    HOTKEY_ID = 0xED01
    WM_HOTKEY = 0x0312
    MOD_ALT, MOD_CONTROL, MOD_SHIFT, MOD_WIN, MOD_NOREPEAT = 0x0001, 0x0002, 0x0004, 0x0008, 0x4000
    VK_SPACE, VK_F1 = 0x20, 0x70

    @classmethod
    def codes(cls, combo: KeyCombo) -> tuple[int, int]:
        """(modifiers, virtual-key code) for RegisterHotKey: letters and digits are their upper-case ASCII."""
        mods = cls.MOD_NOREPEAT
        for m, bit in (("alt", cls.MOD_ALT), ("ctrl", cls.MOD_CONTROL), ("shift", cls.MOD_SHIFT),
                       ("super", cls.MOD_WIN)):
            if m in combo.modifiers:
                mods |= bit
        if combo.key == "space":
            return mods, cls.VK_SPACE
        if len(combo.key) > 1:
            return mods, cls.VK_F1 + int(combo.key[1:]) - 1
        return mods, ord(combo.key.upper())

    def __init__(self, callback: Callable[[], None]) -> None:
        super().__init__()
        self.callback = callback

    @classmethod
    def install(cls, callback: Callable[[], None], combo: KeyCombo) -> WindowsHotkey | None:
        if sys.platform != "win32":
            return None
        import ctypes

        user32 = ctypes.windll.user32
        if not user32.RegisterHotKey(None, cls.HOTKEY_ID, *cls.codes(combo)):
            log.warning("%s is taken by another program: no global quick-ask shortcut (choose another in Settings)",
                        combo.label())
            return None
        hotkey = cls(callback)
        instance = QCoreApplication.instance()
        if instance is not None:
            instance.installNativeEventFilter(hotkey)
        return hotkey

    def nativeEventFilter(self, event_type: Any, message: Any) -> tuple[bool, int]:  # noqa: N802
        if bytes(event_type) == b"windows_generic_MSG":
            from ctypes import wintypes

            msg = wintypes.MSG.from_address(int(message))
            if msg.message == self.WM_HOTKEY and msg.wParam == self.HOTKEY_ID:
                self.callback()
                return True, 0
        return False, 0

    def uninstall(self) -> None:
        if sys.platform != "win32":
            return
        import ctypes

        ctypes.windll.user32.UnregisterHotKey(None, self.HOTKEY_ID)
        instance = QCoreApplication.instance()
        if instance is not None:
            instance.removeNativeEventFilter(self)
