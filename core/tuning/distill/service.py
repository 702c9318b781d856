"""Distillation end to end, for the CLI, the GUI and the benchmark alike: the teacher's verified answers, the
student's tune, the paired evaluation, in a work folder that makes a killed or paused run resume.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...engine import Engine, Tools
from ...errors import DistillError
from ...models.adapters import AdapterManifest, AdapterStore
from ...models.integrity import sha256_file
from ...models.manifest import ModelSpec
from ..gguf_lora import export_lora
from ..stack import load_base, require_stack
from ..trainer import TuneProgress
from .collect import Split
from .engine_models import engine_generator
from .job import DistillJob, DistillPlan
from .scheduler import BackgroundDistiller, Policy, Probes, psutil_probes
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


ADAPTER_GGUF = "adapter.gguf"


def _stop_when(stopped: Callable[[], bool], distiller: BackgroundDistiller) -> None:
    while distiller.status.state not in ("done", "stopped", "error"):
        if stopped():
            distiller.stop()
            return
        time.sleep(0.5)


class Distillation:
    """One run's parts over an engine; `job` for the background scheduler (BackgroundDistiller(job.mini_epoch,
    psutil_probes())), `run` in the foreground, `register` to make the adapter a model of its own."""

    def __init__(self, engine: Engine, tools: Tools, split: Split, options: DistillOptions, workdir: Path,
                 progress: Callable[[TuneProgress], None] | None = None) -> None:
        options.check()
        self._adapters = AdapterStore(engine.settings.home)
        if self._adapters.get(options.out_name) is not None:
            raise DistillError(f"an adapter named {options.out_name!r} already exists; pick another name or remove it "
                               f"(`edgemind models remove {options.out_name}`)")
        require_stack()
        self._pair: StudentPair | None = None
        teacher_gen = engine_generator(engine, options.teacher, temperature=options.temperature,
                                       max_tokens=options.teacher_tokens)
        judge = engine_generator(engine, options.teacher, temperature=0.0, max_tokens=8) if options.judge else None
        self.verifiers = Verifiers.standard(tool_runner(tools), judge=judge)
        teacher = Teacher(teacher_gen, self.verifiers, k=options.k, seed=options.seed)
        self._models = engine.models
        self._student: ModelSpec = engine.models.get(options.student)
        student_path = engine.models.prepare(self._student)
        self._base = load_base(student_path)
        self._options = options
        self._lora = workdir / PEFT_DIR
        tuner = trainer_tuner(TuneSettings(options.student, student_path, options.out_name, workdir / "tune",
                                           steps=options.steps, rank=options.rank, lr=options.lr, seed=options.seed,
                                           threads=options.threads),
                              base=self._base, export=save_peft(self._lora, then=export_lora), progress=progress)
        self._gguf = workdir / "tune" / ADAPTER_GGUF  # where the trainer has its exporter write
        self.job = DistillJob(DistillPlan(options.student, options.out_name, split), teacher, tuner, self._students,
                              self.verifiers, workdir)

    def _students(self, model_id: str) -> Generate:
        if self._pair is None:
            self._pair = StudentPair(self._base, self._lora)
        return self._pair.generator(adapter=model_id != self._options.student,
                                    max_new_tokens=self._options.student_tokens)

    def run(self, should_pause: Callable[[], bool] = lambda: False) -> dict[str, Any] | None:
        return self.job.run(should_pause)

    def background(self, probes: Probes | None = None, policy: Policy | None = None) -> BackgroundDistiller:
        """The scheduler the GUI runs in a worker thread: its `status` to show, its `stop()` for the Stop button."""
        return BackgroundDistiller(self.job.mini_epoch, probes or psutil_probes(), policy or Policy())

    def run_in_background(self, stopped: Callable[[], bool] = lambda: False) -> dict[str, Any] | None:
        """Mini-epochs while the machine is idle and on AC power until done or `stopped()` (progress kept)."""
        distiller = self.background()
        watcher = threading.Thread(target=_stop_when, args=(stopped, distiller), daemon=True)
        watcher.start()
        status = distiller.run()
        if status.state == "error":
            raise DistillError(f"distillation failed: {status.reason}")
        return status.last_evaluation if status.state == "done" else None

    def register(self, report: dict[str, Any]) -> Path:
        """Save the GGUF adapter as the model `out_name` (kind "distill"), pinned by its SHA-256 and its base's, with
        the data summary (counts, never the data) and the evaluation in its manifest."""
        if not self._gguf.is_file():
            raise DistillError(f"no adapter was written at {self._gguf}; run the distillation again")
        if not self._student.sha256:
            raise DistillError(f"the student {self._student.id!r} has no pinned SHA-256 to bind an adapter to")
        tune = report.get("tune", {})
        manifest = AdapterManifest(
            name=self._options.out_name, base_model=self._student.id, base_sha256=self._student.sha256,
            adapter_sha256=sha256_file(self._gguf), rank=self._options.rank,
            alpha=float(tune.get("alpha") or 2 * self._options.rank), kind="distill",
            data_summary=dict(report.get("data_summary", {})),
            evaluation={"heldout": report.get("heldout"), "general_ratio": tune.get("general_ratio"),
                        "no_regression": tune.get("no_regression")})
        spec = self._models.add_adapter(manifest, self._gguf)
        assert spec.adapter is not None  # an adapter model always has its file
        return spec.adapter
