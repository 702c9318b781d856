"""What an empty chat shows a newcomer: a welcome (what runs locally, which model, privacy) until it is dismissed once,
and example prompts for each thing EdgeMind can do, which put their prompt in the composer (never send it)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

log = logging.getLogger(__name__)
ZWSP = "\u200b"
WELCOME_SEEN = "welcome_seen"  # a marker file in the data folder: the welcome was dismissed there once


@dataclass(frozen=True, slots=True)
class Example:
    capability: str  # the card's title
    prompt: str
    where: str = "chat"  # "chat": into the composer; "quick ask": into the quick-ask popup


EXAMPLES = (
    Example("Ask", "Explain the difference between weather and climate in three sentences."),
    Example("Code", "Write a Python function that returns the n-th Fibonacci number, with a docstring and a test."),
    Example("Math", "A train travels 180 km in 2.5 hours. What is its average speed in km/h? Show the steps."),
    Example("Your documents", "Search my notes folder for what I wrote about the budget and summarise it."),
    Example("Quick ask", "What is 15% of 240?", where="quick ask"),
)


class FirstRun:
    """Whether the welcome was dismissed in this data folder (a marker file, so it survives settings resets)."""

    def __init__(self, home: Path) -> None:
        self.marker = home / WELCOME_SEEN

    def welcome_seen(self) -> bool:
        return self.marker.exists()

    def mark_welcome_seen(self) -> None:
        try:
            self.marker.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(self.marker, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as exc:  # a read-only data folder shows the welcome again next time, nothing worse
            log.warning("cannot record that the welcome was seen in %s: %s", self.marker, exc)


def welcome_text(model: str, home: Path) -> str:
    return (f"<p><b>Everything runs on this computer.</b> Answers come from <b>{_escape(model)}</b>, a small open "
            "model run by llama.cpp on your own processor; code and maths questions may go to another local model "
            "that suits them better (Settings lists them all).</p>"
            "<p><b>Nothing leaves this machine.</b> Your questions, answers, documents and history stay in "
            f"<code>{_breakable(str(home))}</code>. No account, no telemetry; the local API for other apps is off "
            "until you turn it on in Settings.</p>"
            "<p><b>Tools ask first.</b> Before EdgeMind reads a file or runs code, it shows you exactly what it wants "
            "to do; every tool call is in the Audit log.</p>")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _breakable(path: str) -> str:
    """A path that may wrap after each separator (a zero-width space): a long data folder path must not widen the
    chat beyond its window."""
    return "".join(c + ZWSP if c in "/\\" else c for c in _escape(path))


class WelcomeCard(QFrame):
    dismissed = Signal()

    def __init__(self, model: str, home: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        layout = QVBoxLayout(self)
        title = QLabel("Welcome to EdgeMind")
        title.setObjectName("welcomeTitle")
        self.body = QLabel(welcome_text(model, home))
        self.body.setTextFormat(Qt.TextFormat.RichText)
        self.body.setWordWrap(True)
        self.got_it = QPushButton("Got it")
        self.got_it.clicked.connect(self.dismissed.emit)
        layout.addWidget(title)
        layout.addWidget(self.body)
        layout.addWidget(self.got_it, 0, Qt.AlignmentFlag.AlignRight)


class ExamplePrompts(QWidget):
    """One card per capability; clicking a card hands its Example to `choose`."""

    def __init__(self, choose: Callable[[Example], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setSpacing(10)
        hint = QLabel("Try one of these, or type your own question below:")
        hint.setObjectName("hint")
        grid.addWidget(hint, 0, 0, 1, 2)
        self.buttons: dict[str, QPushButton] = {}
        for i, example in enumerate(EXAMPLES):
            button = QPushButton()
            button.setObjectName("example")
            button.setAccessibleName(f"{example.capability}: {example.prompt}")
            button.setToolTip("Puts this prompt in the quick-ask box" if example.where == "quick ask" else
                              "Puts this prompt in the message box: edit it, then press Enter")
            # A push button's own text never wraps: a wrapping label inside it lets the cards shrink with the window.
            label = QLabel(f"<b>{_escape(example.capability)}</b><br>{_escape(example.prompt)}")
            label.setWordWrap(True)
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            inside = QVBoxLayout(button)
            inside.setContentsMargins(12, 8, 12, 8)
            inside.addWidget(label)
            button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            button.setMinimumHeight(72)
            button.clicked.connect(lambda _checked=False, e=example: choose(e))
            self.buttons[example.capability] = button
            grid.addWidget(button, 1 + i // 2, i % 2)


class EmptyChat(QWidget):
    """What a chat with no messages shows: the welcome (first run only) and the example prompts."""

    example_chosen = Signal(object)  # the Example clicked

    def __init__(self, model: str, home: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.first_run = FirstRun(home)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 24, 24, 8)
        self.welcome = WelcomeCard(model, home)
        self.welcome.dismissed.connect(self.dismiss_welcome)
        self.welcome.setVisible(not self.first_run.welcome_seen())
        self.examples = ExamplePrompts(self.example_chosen.emit)
        layout.addWidget(self.welcome)
        layout.addWidget(self.examples)

    def dismiss_welcome(self) -> None:
        self.welcome.hide()
        self.first_run.mark_welcome_seen()
