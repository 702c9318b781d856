"""Keeps a tool call out of an answer: a final answer that starts writing a call (`<tool_call>`, a bare
`{"name": ...}` object, a ```json fence or any other tag holding one) is held back, and a call is dropped, never
shown to the user.

Text before a call streams as it comes; only the few characters that could be the start of a call are held back,
so an ordinary answer streams unchanged. JSON that is not a call (a user asked for JSON) is let through at the end.

An answer that opens by copying one of the instructions it was given (`echoes`: a small model, told "the call to
calculator failed, so do not make up its content", writes that sentence back as its answer) is dropped the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# What a call starts with in the layouts small models write (the loop's parse_call reads all of them).
_STARTS = ("<tool_call>", "```json", '{"name"', '{"tool"')
_ECHO_CHARS = 40  # an opening this long that matches an instruction word for word is a copy, not an answer
# any name: the 0.5B model also wrote `"name": "March 6 is which day of the year"` with its arguments
_CALL_NAME = re.compile(r'"(?:name|tool)"\s*:\s*"[^"\n]{1,120}"')


def looks_like_call(text: str) -> bool:
    """True when `text` holds a function call in any layout a model writes (or the closing tag of one)."""
    return "<tool_call>" in text or "</tool_call>" in text or (
        _CALL_NAME.search(text) is not None and ('"arguments"' in text or '"parameters"' in text))


@dataclass(slots=True)
class CallFilter:
    """Feed it the answer's chunks; it returns the text safe to show and holds back anything that may be a call."""

    echoes: tuple[str, ...] = ()  # instructions the answer must not open by copying
    _held: str = ""
    _holding: bool = False  # a call may have started: keep everything from there until the end
    _echoing: bool = False  # the answer opened with a copied instruction: drop it whole
    dropped: bool = False  # a call (or a copied instruction) was cut out of the answer
    shown: str = ""  # everything returned so far

    def feed(self, chunk: str) -> str:
        self._held += chunk
        if self._holding:
            return ""
        if self.echoes and not self.shown:
            opening = _plain(self._held)
            copies = [e for e in map(_plain, self.echoes) if e.startswith(opening[:_ECHO_CHARS])]
            if copies and len(opening) < _ECHO_CHARS:
                return ""  # may still turn out to be a copy
            if copies:
                self._holding = self._echoing = True
                return ""
        starts = [i for i in (self._held.find(s) for s in _STARTS) if i >= 0]
        # opens with JSON, a fence or markup (`<json>{"name": ...}</json>`): held to the end, shown there unless a call
        if not self.shown.strip() and self._held.lstrip()[:1] in ("{", "`", "<"):
            starts.append(0)
        if starts:
            cut = min(starts)
            out, self._held, self._holding = self._held[:cut], self._held[cut:], True
            return self._show(out)
        # keep back a tail that could still grow into one of the starts
        keep = max((n for s in _STARTS for n in range(1, len(s)) if self._held.endswith(s[:n])), default=0)
        out = self._held[:len(self._held) - keep]
        self._held = self._held[len(self._held) - keep:]
        return self._show(out)

    def finish(self) -> str:
        """The held text, unless it is a call or a copied instruction (then it is dropped and `dropped` is set)."""
        held, self._held, self._holding = self._held, "", False
        opening = _plain(held)
        copied = bool(self.echoes) and not self.shown and len(opening) >= _ECHO_CHARS // 2 and any(
            e.startswith(opening) for e in map(_plain, self.echoes))
        if self._echoing or copied or looks_like_call(held):
            self.dropped = True
            return ""
        return self._show(held)

    def _show(self, text: str) -> str:
        self.shown += text
        return text


def _plain(text: str) -> str:
    return " ".join(text.split()).lower()
