"""The server's validated configuration, built once from Settings and the command line."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import Settings
from .limits import CHARS_PER_TOKEN, RequestCaps


@dataclass(frozen=True, slots=True)
class ServerConfig:
    api_key: str
    host: str = "127.0.0.1"
    port: int = 8642
    allow_remote: bool = False  # bound beyond loopback on purpose: IP-literal Host headers are accepted too
    allowed_origins: tuple[str, ...] = ()  # besides loopback origins
    max_body_bytes: int = 4 * 1024 * 1024
    rate_limit_per_minute: int = 120  # per API key; 0: off
    # Generations running or waiting in the whole server: a last bound behind the per-model queue (503 beyond it).
    max_in_flight: int = 64
    retry_after_seconds: int = 2
    caps: RequestCaps = RequestCaps()  # messages and prompt characters per request, checked before any work

    @classmethod
    def from_settings(cls, settings: Settings, *, api_key: str, host: str = "127.0.0.1", port: int | None = None,
                      allow_remote: bool = False) -> ServerConfig:
        return cls(api_key=api_key, host=host, port=settings.api_port if port is None else port,
                   allow_remote=allow_remote, allowed_origins=settings.api_allowed_origins,
                   max_body_bytes=settings.api_max_body_bytes,
                   rate_limit_per_minute=settings.api_rate_limit_per_minute,
                   caps=RequestCaps(max_messages=settings.api_max_messages,
                                    max_prompt_chars=settings.context_length * CHARS_PER_TOKEN))
