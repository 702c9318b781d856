"""The plain data of a code review: one finding and where it came from. Its own module so the analyzers, the merge
and the model review can all use it without importing each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SEVERITIES = ("error", "warning", "info")
MODEL_SOURCE = "model"
AST_SOURCE = "edgemind:ast"
SYNTAX_SOURCE = "python:syntax"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at one line. `source` says who found it: "ruff:B006", "edgemind:ast", "python:syntax" (facts from
    an analyzer) or "model" (the code model's claim, which is untrusted text)."""

    line: int
    severity: str
    message: str
    suggestion: str = ""
    source: str = MODEL_SOURCE

    @property
    def from_analyzer(self) -> bool:
        return self.source != MODEL_SOURCE

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "severity": self.severity, "message": self.message, "suggestion": self.suggestion,
                "source": self.source}
