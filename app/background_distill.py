"""Background distillation for the desktop app: what a run is made of (a scheduler, and what to do with its result),
the default way to build one over the app's engine, and a holder that lets the Stop button and the app's shutdown
reach a scheduler that a worker thread may still be building.

The scheduler itself (core/tuning/distill/scheduler.py) decides when to work: idle and on AC power only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgemind.core.tuning.distill.scheduler import BackgroundDistiller, DistillStatus

from .context import AppContext

HELDOUT_FRACTION = 0.25  # as `edgemind distill run` by default: the newest quarter of prompts is held out


@dataclass(frozen=True, slots=True)
class DistillChoice:
    """What the user picked on the page: the teaching model, the model to tune, the adapter's name."""

    teacher: str
    student: str
    out_name: str = "distilled"


@dataclass(frozen=True, slots=True)
class BackgroundRun:
    """A scheduler to run, and `register(report)` for the evaluation it ends with (None: nothing to keep, as in a
    test's run). Returns a line saying what was kept."""

    distiller: BackgroundDistiller
    register: Callable[[dict[str, Any]], str] | None = None
    close: Callable[[], None] = lambda: None  # what the run opened (its tools), let go when it ends


# Built in a worker thread (loading the student takes seconds): the page injects a fast one in tests
RunFactory = Callable[[DistillChoice], BackgroundRun]


def engine_run_factory(ctx: AppContext) -> RunFactory:
    """Runs built as `edgemind distill run --background` builds them: the user's answered prompts (excluded
    conversations left out, refused when distill_enabled is off), the app's engine and tools, progress kept in
    <data>/distill/<name> so a stopped run resumes."""

    def build(choice: DistillChoice) -> BackgroundRun:
        from edgemind.core.engine import Tools  # lazy: the engine package loads after the window shows
        from edgemind.core.tuning.distill.collect import (  # lazy: distillation loads when a run starts
            collect,
            split_newest,
        )
        from edgemind.core.tuning.distill.service import (  # lazy: the training stack loads when a run starts
            Distillation,
            DistillOptions,
        )

        settings = ctx.settings
        engine = ctx.engine_in_worker()
        options = DistillOptions(teacher=choice.teacher, student=choice.student, out_name=choice.out_name,
                                 threads=settings.threads)
        options.check()
        split = split_newest(collect(engine.conversations.answered_prompts(), enabled=settings.distill_enabled),
                             HELDOUT_FRACTION)
        # stored grants only, as the CLI: a background run never stops to ask the user for a permission
        tools = Tools(engine.open_tools())
        try:
            distillation = Distillation(engine, tools, split, options, settings.home / "distill" / options.out_name)
        except BaseException:
            tools.close()
            raise

        def register(report: dict[str, Any]) -> str:
            path: Path = distillation.register(report)
            return f"saved as the model {options.out_name} ({path.name})"

        return BackgroundRun(distillation.background(), register, tools.close)

    return build


@dataclass
class RunSlot:
    """The one background run of a page, shared between the GUI thread and the worker that builds and runs it.
    `stop()` reaches the scheduler whether or not the worker has finished building it."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _run: BackgroundRun | None = None
    _stopped: bool = False

    def put(self, run: BackgroundRun) -> bool:
        """Hold the worker's new run; False (and the run stopped) when Stop came while it was being built."""
        with self._lock:
            if self._stopped:
                run.distiller.stop()
                return False
            self._run = run
            return True

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._run is not None:
                self._run.distiller.stop()

    @property
    def status(self) -> DistillStatus | None:
        with self._lock:
            run = self._run
        return run.distiller.status if run is not None else None


def run_in_worker(slot: RunSlot, factory: RunFactory, choice: DistillChoice,
                  cancelled: Callable[[], bool]) -> tuple[DistillStatus | None, str]:
    """Build the run, hold it in `slot`, run it until done or stopped; the final status and a line on what was kept.
    Blocks for as long as the run lasts: call it in a worker."""
    run = factory(choice)
    try:
        if cancelled() or not slot.put(run):
            return None, "stopped before it started"
        status = run.distiller.run()
        if status.state == "done" and status.last_evaluation is not None and run.register is not None:
            return status, run.register(status.last_evaluation)
        return status, ""
    finally:
        run.close()


def status_line(status: DistillStatus | None) -> str:
    """One line for the page: the state, the work done, why it waits, and the newest evaluation's pass counts."""
    if status is None:
        return "Not running."
    parts = [status.state, f"step {status.step}", f"{status.epochs} mini-epoch{'s' if status.epochs != 1 else ''}"]
    if status.reason:
        parts.append(status.reason)
    held = (status.last_evaluation or {}).get("heldout")
    if isinstance(held, dict) and "n" in held:
        parts.append(f"held-out prompts {held.get('n')}: untuned passed {held.get('base_passed')}, tuned "
                     f"{held.get('tuned_passed')}")
    return "Distillation: " + "; ".join(str(p) for p in parts) + "."
