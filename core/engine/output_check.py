"""The output stage: the safety check reads the whole answer before it is kept. It only judges: the withheld answer
is replaced by `recording.Recorder`."""

from __future__ import annotations

from ..safety.verdict import Safety, Verdict
from .request import Request


class OutputCheck:
    def __init__(self, safety: Safety | None) -> None:
        self.safety = safety

    def check(self, request: Request) -> Verdict | None:
        """The verdict that withholds the answer, or None when it may be kept."""
        text = request.text
        verdict = self.safety.check_output(text) if self.safety is not None and text else None
        return verdict if verdict is not None and not verdict.allowed else None
