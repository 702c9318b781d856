"""The student's tune: section 1's trainer behind the job's `Tuner` seam. A pause is the trainer's cancel (it keeps
its checkpoint), so the next mini-epoch resumes the same run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import TuneCancelled
from ..data import Example
from ..trainer import Exporter, TuneProgress, TuneRequest, tune
from .job import TuneOutcome, Tuner


@dataclass(frozen=True, slots=True)
class TuneSettings:
    student: str  # the base student's model id
    base_path: Path  # its GGUF file
    out_name: str
    workdir: Path
    steps: int = 60
    rank: int = 8
    lr: float = 1e-3
    seed: int = 0
    threads: int | None = None


class _Pause:
    def __init__(self, should_pause: Callable[[], bool]) -> None:
        self._should_pause = should_pause

    @property
    def cancelled(self) -> bool:
        return self._should_pause()


def trainer_tuner(settings: TuneSettings, *, base: Any = None, export: Exporter | None = None,
                  progress: Callable[[TuneProgress], None] | None = None) -> Tuner:
    """A Tuner over `trainer.tune`; `base` a loaded student to reuse, `export` what writes the adapter."""
    def run(pairs: Sequence[tuple[str, str]], should_pause: Callable[[], bool]) -> TuneOutcome:
        request = TuneRequest(model_id=settings.student, base_path=settings.base_path,
                              examples=tuple(Example.from_prompt(p, a) for p, a in pairs), rank=settings.rank,
                              steps=settings.steps, lr=settings.lr, out_name=settings.out_name,
                              workdir=settings.workdir, seed=settings.seed, threads=settings.threads)
        last = [0]

        def show(p: TuneProgress) -> None:
            last[0] = max(last[0], p.step)
            if progress is not None:
                progress(p)

        try:
            report = tune(request, show, _Pause(should_pause), base=base, export=export)
        except TuneCancelled:
            return TuneOutcome(False, last[0])
        return TuneOutcome(True, report.steps, report.as_dict())

    return run
