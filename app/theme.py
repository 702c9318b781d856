"""Light and dark looks that follow the system's colour scheme (Qt 6.5+ reports it; elsewhere the palette tells)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication


@dataclass(frozen=True, slots=True)
class Theme:
    dark: bool
    text: str
    muted: str
    surface: str  # message bubbles
    user_surface: str
    code_surface: str
    border: str
    accent: str
    error: str
    pygments_style: str

    def severity_color(self, severity: str) -> str:
        return {"error": self.error, "warning": "#c98a00" if not self.dark else "#e0b040"}.get(severity, self.accent)


LIGHT = Theme(False, "#1d1f23", "#5f6672", "#ffffff", "#e8f0fe", "#f6f8fa", "#d6dae0", "#2f6fde", "#c62828", "friendly")
DARK = Theme(True, "#e6e8eb", "#9aa3ad", "#24272c", "#1f3354", "#1b1d21", "#3a3f47", "#6ea1ff", "#ff6b6b", "monokai")
_current = LIGHT
DISABLED_TEXT = "#6b717a"  # dark theme: 120 lightness steps below its text, still readable on its grey


def current() -> Theme:
    return _current


def system_prefers_dark(app: QGuiApplication) -> bool:
    scheme = app.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def apply(app: QApplication, dark: bool | None = None) -> Theme:
    global _current
    app.setStyle("Fusion")
    _current = theme = DARK if (system_prefers_dark(app) if dark is None else dark) else LIGHT
    palette = QPalette()
    if theme.dark:
        for role, color in ((QPalette.ColorRole.Window, "#1e2024"), (QPalette.ColorRole.WindowText, theme.text),
                            (QPalette.ColorRole.Base, "#17191c"), (QPalette.ColorRole.AlternateBase, "#22252a"),
                            (QPalette.ColorRole.Text, theme.text), (QPalette.ColorRole.Button, "#2a2d33"),
                            (QPalette.ColorRole.ButtonText, theme.text), (QPalette.ColorRole.Highlight, "#3d6fd1"),
                            (QPalette.ColorRole.HighlightedText, "#ffffff"),
                            (QPalette.ColorRole.ToolTipBase, "#2a2d33"), (QPalette.ColorRole.ToolTipText, theme.text),
                            (QPalette.ColorRole.PlaceholderText, theme.muted), (QPalette.ColorRole.Link, theme.accent)):
            palette.setColor(role, QColor(color))
        # Roles set without a group apply to every group, Disabled included: without these, a disabled button was
        # drawn exactly like an enabled one. Dimmed text on a flatter button, as Fusion's own light palette does.
        disabled = QPalette.ColorGroup.Disabled
        for role, color in ((QPalette.ColorRole.WindowText, DISABLED_TEXT), (QPalette.ColorRole.Text, DISABLED_TEXT),
                            (QPalette.ColorRole.ButtonText, DISABLED_TEXT), (QPalette.ColorRole.Button, "#232529"),
                            (QPalette.ColorRole.Base, "#1b1d20"), (QPalette.ColorRole.Highlight, "#3a3f47"),
                            (QPalette.ColorRole.HighlightedText, DISABLED_TEXT)):
            palette.setColor(disabled, role, QColor(color))
    else:
        palette = app.style().standardPalette()
    app.setPalette(palette)
    app.setStyleSheet(f"""
        QFrame#message {{ background: {theme.surface}; border: 1px solid {theme.border}; border-radius: 8px; }}
        QFrame#message[role="user"] {{ background: {theme.user_surface}; }}
        QFrame#message[role="error"] {{ border-color: {theme.error}; }}
        QLabel#badge {{ color: {theme.muted}; font-size: 11px; }}
        QLabel#who {{ font-weight: bold; }}
        QLabel#errorText {{ color: {theme.error}; }}
        QFrame#codeBlock {{ background: {theme.code_surface}; border: 1px solid {theme.border}; border-radius: 6px; }}
        QLabel#codeLang {{ color: {theme.muted}; font-size: 11px; }}
        QLabel#hint {{ color: {theme.muted}; }}
        QLabel#toolLine {{ color: {theme.muted}; font-size: 12px; }}
        QLabel#toolLine[verdict="denied"] {{ color: {theme.error}; }}
        QLabel#argName {{ color: {theme.muted}; font-size: 11px; }}
        QFrame#welcome {{ background: {theme.user_surface}; border: 1px solid {theme.border}; border-radius: 10px; }}
        QLabel#welcomeTitle {{ font-size: 18px; font-weight: bold; }}
        QPushButton#example {{ text-align: left; padding: 8px 12px; background: {theme.surface};
                               border: 1px solid {theme.border}; border-radius: 8px; }}
        QPushButton#example:hover {{ border-color: {theme.accent}; }}
        QLabel#emptyState {{ color: {theme.muted}; padding: 24px; }}
        QFrame#quickAsk {{ background: {theme.surface}; border: 1px solid {theme.border}; border-radius: 10px; }}
    """)
    return theme


def follow_system(app: QApplication, on_change: Callable[[], None] | None = None) -> None:
    """Re-apply the theme when the system switches between light and dark."""
    def changed(_scheme: object) -> None:
        apply(app)
        if on_change:
            on_change()

    app.styleHints().colorSchemeChanged.connect(changed)
