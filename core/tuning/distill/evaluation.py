"""Student with its adapter against the base student on the same held-out prompts: pass rates by the same verifiers
and an exact paired test on the prompts where they differ (McNemar's exact test, i.e. a sign test)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import comb
from typing import Any

from ...errors import DistillError
from .checks import Check
from .verifiers import Generate, Verifiers

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Paired:
    """Outcomes of two models on the same prompts."""

    n: int
    base_passed: int
    tuned_passed: int
    tuned_only: int  # prompts the tuned student got right and the base student wrong
    base_only: int

    @property
    def p_one_sided(self) -> float:
        """P(at least `tuned_only` wins of the discordant pairs | no difference): the sign test."""
        d = self.tuned_only + self.base_only
        return sum(comb(d, i) for i in range(self.tuned_only, d + 1)) / 2**d if d else 1.0

    @property
    def p_two_sided(self) -> float:
        """McNemar's exact test."""
        d = self.tuned_only + self.base_only
        if not d:
            return 1.0
        low = min(self.tuned_only, self.base_only)
        return min(1.0, 2 * sum(comb(d, i) for i in range(low + 1)) / 2**d)

    def as_dict(self) -> dict[str, Any]:
        return {"n": self.n, "base_passed": self.base_passed, "tuned_passed": self.tuned_passed,
                "tuned_only": self.tuned_only, "base_only": self.base_only,
                "base_pass_rate": round(self.base_passed / self.n, 4) if self.n else None,
                "tuned_pass_rate": round(self.tuned_passed / self.n, 4) if self.n else None,
                "sign_test_p_one_sided": round(self.p_one_sided, 6), "mcnemar_p_two_sided": round(self.p_two_sided, 6)}


def paired(base: Sequence[bool], tuned: Sequence[bool]) -> Paired:
    if len(base) != len(tuned):
        raise ValueError("paired outcomes need the same prompts on both sides")
    return Paired(len(base), sum(base), sum(tuned), sum(t and not b for b, t in zip(base, tuned, strict=True)),
                  sum(b and not t for b, t in zip(base, tuned, strict=True)))


@dataclass(frozen=True, slots=True)
class Attempt:
    prompt: str
    kind: str
    base_answer: str
    base_passed: bool
    tuned_answer: str
    tuned_passed: bool


def compare(items: Sequence[tuple[str, Check]], base: Generate, tuned: Generate, verifiers: Verifiers, *,
            seed: int = 0, stopped: Callable[[], bool] = lambda: False) -> tuple[Paired, list[Attempt]]:
    """Each prompt answered once by each student (same seed), each answer verified."""
    attempts = []
    for prompt, check in items:
        if stopped():
            break
        b = base([("user", prompt)], seed)
        t = tuned([("user", prompt)], seed)
        try:
            b_passed, t_passed = verifiers.verify(prompt, check, b).passed, verifiers.verify(prompt, check, t).passed
        except DistillError as exc:  # cannot be checked here (no grant for the code runner…): not counted
            log.info("held-out prompt left out of the comparison: %s", exc)
            continue
        attempts.append(Attempt(prompt, check.kind, b, b_passed, t, t_passed))
    return paired([a.base_passed for a in attempts], [a.tuned_passed for a in attempts]), attempts
