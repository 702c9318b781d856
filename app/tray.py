"""The tray icon and its menu (Quick ask, Open EdgeMind, Pause models, Quit), and the global quick-ask hotkey
(Ctrl+Alt+Space through RegisterHotKey, on Windows only; elsewhere the desktop's keyboard settings run
`edgemind quick`, and hotkey.py says so in one line)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractNativeEventFilter, QCoreApplication, QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from .context import AppContext
from .hotkey import hotkey_note
from .icon import app_icon

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
        self.hotkey = WindowsHotkey.install(quick_ask) if sys.platform == "win32" else None
        self.hotkey_note = hotkey_note(sys.platform, os.environ)
        if self.hotkey_note:
            log.info("%s", self.hotkey_note)
        self.quick_action.setToolTip(self.hotkey_note or ("Ctrl+Alt+Space anywhere" if self.hotkey else ""))

    def _paused(self, paused: bool) -> None:
        self.pause_action.blockSignals(True)
        self.pause_action.setChecked(paused)
        self.pause_action.blockSignals(False)
        self.icon.setToolTip("EdgeMind (models paused)" if paused else "EdgeMind")

    def actions(self) -> list[str]:
        return [a.text() for a in self.menu.actions() if a.text()]


class WindowsHotkey(QAbstractNativeEventFilter):
    """Ctrl+Alt+Space anywhere in Windows opens the quick ask (RegisterHotKey, WM_HOTKEY)."""

    HOTKEY_ID = 0xED01
    WM_HOTKEY = 0x0312
    MOD_ALT, MOD_CONTROL, MOD_NOREPEAT, VK_SPACE = 0x0001, 0x0002, 0x4000, 0x20

    def __init__(self, callback: Callable[[], None]) -> None:
        super().__init__()
        self.callback = callback

    @classmethod
    def install(cls, callback: Callable[[], None]) -> WindowsHotkey | None:
        if sys.platform != "win32":
            return None
        import ctypes

        user32 = ctypes.windll.user32
        if not user32.RegisterHotKey(None, cls.HOTKEY_ID, cls.MOD_CONTROL | cls.MOD_ALT | cls.MOD_NOREPEAT,
                                     cls.VK_SPACE):
            log.warning("Ctrl+Alt+Space is taken by another program: no global quick-ask hotkey")
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
