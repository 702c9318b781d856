"""Caps on how much one request may ask the model to read, checked before any work (routing, tokenizing, loading):
a flood of history held a model for minutes and grew the server by hundreds of MB before it failed."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ApiError

# A token is rarely longer than this many characters: text over context_length * CHARS_PER_TOKEN cannot fit.
CHARS_PER_TOKEN = 8


@dataclass(frozen=True, slots=True)
class RequestCaps:
    """The server's caps (ServerConfig.caps): a message count no real conversation reaches, and the characters
    that could fit in the configured context (`context_length` tokens)."""

    max_messages: int = 1000
    max_prompt_chars: int = 4096 * CHARS_PER_TOKEN

    def check_messages(self, count: int) -> None:
        if count > self.max_messages:
            raise ApiError(400, f"the request has {count:,} messages; the limit is {self.max_messages:,}",
                           "too_many_messages", param="messages")

    def check_chars(self, count: int, param: str) -> None:
        if count > self.max_prompt_chars:
            raise ApiError(400, f"the prompt is too long: {count:,} characters; the limit is "
                                f"{self.max_prompt_chars:,} (context_length x {CHARS_PER_TOKEN})",
                           "context_length_exceeded", param=param)
