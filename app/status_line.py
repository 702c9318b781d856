"""The main window's status line: what the engine is doing now (starting, ready, paused, generating an answer and
how far it got), from the app's hooks only, so every surface that streams an answer shows up the same way."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel, QWidget

from .hooks import Hooks


class StatusLine(QLabel):
    def __init__(self, hooks: Hooks, parent: QWidget | None = None) -> None:
        super().__init__("Starting the engine…", parent)
        self._ready = False
        self._paused = False
        self._streaming: dict[str, int] = {}  # surface ("chat", "quick ask") -> tokens so far
        self._last = ""  # how the last answer ended, shown after "Ready."
        hooks.engine_did_start.connect(self._started)
        hooks.engine_did_fail.connect(lambda why: self.setText(f"Engine failed: {why}"))
        hooks.models_did_pause.connect(self._pause)
        hooks.answer_did_progress.connect(self._progress)
        hooks.answer_did_end.connect(self._end)

    def _started(self, _engine: Any) -> None:
        self._ready = True
        self._show()

    def _pause(self, paused: bool) -> None:
        self._paused = paused
        self._show()

    def _progress(self, surface: str, tokens: int) -> None:
        self._streaming[surface] = tokens
        self._show()

    def _end(self, surface: str, outcome: Any) -> None:
        self._streaming.pop(surface, None)
        metrics = getattr(outcome, "metrics", None)
        if getattr(outcome, "finish_reason", "") == "cancelled":
            self._last = f"Last answer stopped after {metrics.tokens} tokens." if metrics else ""
        elif metrics is not None:
            rate = f" at {metrics.tok_s:.1f} tok/s" if metrics.tok_s else ""
            self._last = f"Last answer: {metrics.tokens} tokens{rate}."
        else:
            self._last = "The last answer failed."
        self._show()

    def _show(self) -> None:
        if self._streaming:
            parts = [f"{surface} {tokens} token{'s' if tokens != 1 else ''}" if tokens else f"{surface} starting"
                     for surface, tokens in self._streaming.items()]
            self.setText(f"Generating… {', '.join(parts)}. Esc stops.")
        elif self._paused:
            self.setText("Models paused.")
        elif self._ready:
            self.setText(f"Ready. {self._last}".strip())
