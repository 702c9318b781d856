"""What every stand-in for a BACKEND in the tool-loop tests says the same way: no token count (the engine estimates),
a 4096-token window, no load time. Each stand-in writes only its stream()."""

from __future__ import annotations

from edgemind.core.backends.base import Message


class StandInBackend:
    def count_tokens(self, messages: list[Message]) -> int | None:
        return None

    def context_window(self) -> int | None:
        return 4096

    def take_load_ms(self) -> float:
        return 0.0
