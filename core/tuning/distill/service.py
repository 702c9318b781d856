"""Distillation end to end, for the CLI, the GUI and the benchmark alike: the teacher's verified answers, the
student's tune, the paired evaluation, in a work folder that makes a killed or paused run resume.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...engine import Engine, Tools
from ...errors import DistillError
from ..stack import load_base, require_stack
from ..trainer import TuneProgress
from .collect import Split
from .engine_models import engine_generator
from .job import DistillJob, DistillPlan
from .students import PEFT_DIR, StudentPair, save_peft
from .teacher import Teacher
from .tuning import TuneSettings, trainer_tuner
from .verifiers import Generate, Verifiers, tool_runner

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class DistillOptions:
    teacher: str
    student: str
    out_name: str = "distilled"
    k: int = 3  # teacher samples per prompt
    steps: int = 90
    rank: int = 8
    lr: float = 1e-3
    seed: int = 0
    temperature: float = 0.8
    teacher_tokens: int = 160
    student_tokens: int = 96
    threads: int | None = None
    judge: bool = True  # prompts nothing else can check are graded by the teacher

    def check(self) -> None:
        """DistillError naming the first bad option."""
        if not _NAME.match(self.out_name):
            raise DistillError(f"adapter name {self.out_name!r}: use 1-64 lower-case letters, digits, '.', '_', '-'")
        if not 1 <= self.k <= 64:
            raise DistillError(f"samples per prompt (--k) must be 1-64, not {self.k}")
        if not 1 <= self.steps <= 100_000:
            raise DistillError(f"--steps must be 1-100000, not {self.steps}")
        if not 1 <= self.rank <= 256:
            raise DistillError(f"--rank must be 1-256, not {self.rank}")
        if not 0 < self.lr < 1:
            raise DistillError(f"--lr must be between 0 and 1, not {self.lr}")
        if not 0 < self.temperature <= 2:
            raise DistillError(f"the teacher samples at a temperature above 0 (up to 2), not {self.temperature}")


class Distillation:
    """One run's parts over an engine; `job` for the background scheduler, `run` in the foreground."""

    def __init__(self, engine: Engine, tools: Tools, split: Split, options: DistillOptions, workdir: Path,
                 progress: Callable[[TuneProgress], None] | None = None) -> None:
        options.check()
        require_stack()
        self._pair: StudentPair | None = None
        teacher_gen = engine_generator(engine, options.teacher, temperature=options.temperature,
                                       max_tokens=options.teacher_tokens)
        judge = engine_generator(engine, options.teacher, temperature=0.0, max_tokens=8) if options.judge else None
        self.verifiers = Verifiers.standard(tool_runner(tools), judge=judge)
        teacher = Teacher(teacher_gen, self.verifiers, k=options.k, seed=options.seed)
        student_path = engine.models.prepare(engine.models.get(options.student))
        self._base = load_base(student_path)
        self._options = options
        self._lora = workdir / PEFT_DIR
        tuner = trainer_tuner(TuneSettings(options.student, student_path, options.out_name, workdir / "tune",
                                           steps=options.steps, rank=options.rank, lr=options.lr, seed=options.seed,
                                           threads=options.threads),
                              base=self._base, export=save_peft(self._lora), progress=progress)
        self.job = DistillJob(DistillPlan(options.student, options.out_name, split), teacher, tuner, self._students,
                              self.verifiers, workdir)

    def _students(self, model_id: str) -> Generate:
        if self._pair is None:
            self._pair = StudentPair(self._base, self._lora)
        return self._pair.generator(adapter=model_id != self._options.student,
                                    max_new_tokens=self._options.student_tokens)

    def run(self, should_pause: Callable[[], bool] = lambda: False) -> dict[str, Any] | None:
        return self.job.run(should_pause)
