"""The terminal chat: streaming answers, Ctrl-C to stop an answer, and /commands for the conversation."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TextIO

from ..backends.base import CancelToken
from ..engine import AskOptions, ChatSettings, Engine, ToolRunner, chat_options
from ..errors import EdgeMindError
from ..events import Done, Error, Token, ToolCall, ToolResult
from .interrupts import ctrl_c_cancels

HELP = """commands:
  /new            start a new conversation
  /history        list recent conversations
  /open ID        continue a conversation from /history (a unique prefix of its id is enough)
  /model [ID]     show the model, or switch to another (see /models)
  /models         list the models
  /remember TEXT  a fact to keep in mind in every conversation
  /search WORDS   search every conversation
  /help           this help
  /quit           leave (Ctrl-D works too)
Ctrl-C stops an answer; the part already written is kept."""


class ChatSession:
    def __init__(self, engine: Engine, *, model: str | None = None, out: TextIO = sys.stdout,
                 read_line: Callable[[str], str] = input, tools: ToolRunner | None = None,
                 preset: ChatSettings | None = None) -> None:
        self.engine = engine
        # a preset's settings: each new conversation is created with them (so they stay with it), and every
        # question carries them; --model and /model win over its model
        self.preset = preset
        self.model = model or (preset.model if preset is not None else None)
        self.tools = tools  # the terminal's tool capability, passed with every question (None: no tools)
        self.out = out
        self.read_line = read_line
        self.conversation_id: str | None = None

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def run(self) -> int:
        try:
            spec = self.engine.models.get(self.model)
            self.model = spec.id
            if spec.backend == "llama_cpp":
                self.engine.models.prepare(spec, self.engine.install_progress)
        except EdgeMindError as exc:
            self.say(f"edgemind: error: {exc}")
            return 1
        self.say(f"EdgeMind chat with {self.model}. /help for commands, Ctrl-C stops an answer, /quit leaves.")
        while True:
            try:
                line = self.read_line("you> ")
            except EOFError:
                self.say("")
                return 0
            except KeyboardInterrupt:
                self.say("")
                return 0
            line = line.strip()
            if not line:
                continue
            if line.startswith("/"):
                if self.command(line) == "quit":
                    return 0
                continue
            cancel = CancelToken()
            with ctrl_c_cancels(cancel):
                self.answer(line, cancel)

    def answer(self, prompt: str, cancel: CancelToken) -> None:
        options = AskOptions(model=self.model, conversation_id=self.conversation_id, tools=self.tools,
                             new_chat=self.preset if self.conversation_id is None else None)
        if self.preset is not None:
            options = chat_options(self.preset, options)
        self.out.write("edgemind> ")
        for event in self.engine.stream(prompt, options, cancel):
            if isinstance(event, Token):
                self.out.write(event.text)
                self.out.flush()
            elif isinstance(event, ToolCall):
                self.say(f"\n[tool] {event.tool} {json.dumps(event.arguments, ensure_ascii=False)[:200]}")
            elif isinstance(event, ToolResult):
                self.say(f"[tool] {event.tool}: {event.decision}: {event.summary[:120]}")
            elif isinstance(event, Error):
                self.say(f"\n[error] {event.message}")
            elif isinstance(event, Done):
                self.conversation_id = event.conversation_id
                m = event.metrics
                note = " [stopped]" if event.finish_reason == "cancelled" else ""
                speed = f"from cache ({event.cache})" if event.cache != "miss" else f"{m.tok_s:.1f} tok/s"
                self.say(f"{note}\n  ({m.tokens} tokens, {speed}, first token {m.ttft_ms:.0f} ms)")

    def command(self, line: str) -> str | None:
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        if name in ("/quit", "/exit", "/q"):
            return "quit"
        if name == "/help":
            self.say(HELP)
        elif name == "/new":
            self.conversation_id = None
            self.say("new conversation")
        elif name == "/history":
            convs = self.engine.conversations.list(limit=20)
            if not convs:
                self.say("no conversations yet")
            for c in convs:
                self.say(f"  {c.id[:8]}  {c.updated_at:%Y-%m-%d %H:%M}  {c.message_count:>3} msgs  {c.title}")
        elif name == "/open":
            matches = [c for c in self.engine.conversations.list(limit=1000) if c.id.startswith(arg)] if arg else []
            if len(matches) != 1:
                self.say(f"no single conversation matches {arg!r}; see /history")
            else:
                self.conversation_id = matches[0].id
                for m in self.engine.conversations.messages(self.conversation_id)[-6:]:
                    self.say(f"  {m.role}: {m.content[:200]}")
                self.say(f"continuing {matches[0].title!r}")
        elif name == "/model":
            if not arg:
                self.say(f"model: {self.model}")
            else:
                try:
                    self.model = self.engine.models.get(arg).id
                    self.say(f"model: {self.model}")
                except EdgeMindError as exc:
                    self.say(f"[error] {exc}")
        elif name == "/remember":
            if arg:
                self.engine.conversations.remember(arg)
                self.say("remembered")
            else:
                self.say("usage: /remember TEXT")
        elif name == "/search":
            try:
                hits = self.engine.conversations.search(arg)
            except EdgeMindError as exc:
                self.say(f"[error] {exc}")
                hits = []
            for h in hits:
                self.say(f"  {h.conversation_id[:8]}  {h.role}: {h.snippet}")
            if not hits:
                self.say("no matches")
        elif name == "/models":
            for spec in self.engine.models.list():
                self.say(f"  {spec.id} ({spec.backend})")
        else:
            self.say(f"unknown command {name}; /help lists them")
        return None
