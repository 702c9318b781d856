"""The teacher: k sampled answers per prompt (temperature > 0, one seed each, so a rerun draws the same answers),
and the best by the verifiers kept as the student's target. A prompt with no passing answer teaches nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass

from ...backends.base import Backend, CancelToken, GenerationParams, Message
from ...errors import DistillError
from ...events import BackendDone
from .checks import Check
from .verifiers import Generate, Verdict, Verifiers

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Taught:
    """One prompt's best teacher answer, and how many of the k samples passed."""

    prompt: str
    check: Check
    answer: str
    verdict: Verdict
    passed_samples: int
    samples: int


def backend_generator(backend: Backend, *, temperature: float, max_tokens: int,
                      system_prompt: str | None = None, cancel: CancelToken | None = None) -> Generate:
    """A `Generate` over any backend (llama_cpp, Ollama, OpenAI-compatible): the seed makes a sample repeatable
    where the backend honours seeds."""
    token = cancel or CancelToken()

    def generate(messages: list[tuple[str, str]], seed: int) -> str:
        chat = ([Message("system", system_prompt)] if system_prompt else []) + [Message(r, c) for r, c in messages]
        params = GenerationParams(max_tokens=max_tokens, temperature=temperature, seed=seed)
        pieces = []
        with closing(backend.stream(chat, params, token)) as stream:
            for chunk in stream:
                if not isinstance(chunk, BackendDone):
                    pieces.append(chunk)
        return "".join(pieces).strip()

    return generate


class Teacher:
    """Samples `k` answers per prompt and keeps the best the verifiers pass."""

    def __init__(self, generate: Generate, verifiers: Verifiers, k: int = 4, seed: int = 0) -> None:
        if not 1 <= k <= 64:
            raise DistillError(f"samples per prompt must be 1-64, not {k}")
        self._generate = generate
        self._verifiers = verifiers
        self._k = k
        self._seed = seed

    def teach(self, prompt: str, check: Check) -> Taught | None:
        """The best passing answer of k samples, or None when none passed."""
        best: tuple[Verdict, str] | None = None
        passed = 0
        for i in range(self._k):
            answer = self._generate([("user", prompt)], self._seed * 1000 + i)
            verdict = self._verifiers.verify(prompt, check, answer)
            passed += verdict.passed
            if verdict.passed and (best is None or verdict.score > best[0].score):
                best = (verdict, answer)
        if best is None:
            log.info("no teacher answer passed for a %s prompt", check.kind)
            return None
        return Taught(prompt, check, best[1], best[0], passed, self._k)

    def teach_all(self, items: Sequence[tuple[str, Check]], *,
                  stopped: Callable[[], bool] = lambda: False) -> list[Taught]:
        taught = []
        for prompt, check in items:
            if stopped():
                break
            result = self.teach(prompt, check)
            if result is not None:
                taught.append(result)
        return taught
