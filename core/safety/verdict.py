"""What a safety check says about one text (`Verdict`) and the seam the engine checks through (`Safety`).
Plain types only: importing this never loads the classifier or its embedder."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    category: str | None  # the category refused for; None when allowed
    reason: str
    score: float  # the classifier's probability of harm (1.0 for a rule)
    message: str | None  # what to show instead of an answer: a refusal, or support with help resources

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Safety(Protocol):
    """Checks a prompt before it is answered and an answer before it is kept (`checker.SafetyChecker`)."""

    def check_input(self, text: str) -> Verdict: ...

    def check_output(self, text: str) -> Verdict: ...
