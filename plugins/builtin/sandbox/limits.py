"""The limits one code run gets: plain data shared by every OS's sandbox."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Limits:
    """Limits for the whole process tree of one run (how each OS enforces them is its sandbox's business)."""

    cpu_s: int = 5
    wall_s: float = 10.0
    memory_mb: int = 512
    file_mb: int = 8
    output_chars: int = 8_000
    max_processes: int = 64

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
