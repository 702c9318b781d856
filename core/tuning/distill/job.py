"""One distillation, resumable in pieces: teach the training prompts (each result appended to the work folder as it
is made), tune the student on the passing answers, evaluate tuned against base on the held-out prompts. A mini-epoch
runs until it is told to pause; the next one continues where it stopped, in this process or after a restart.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import DistillError
from .collect import Split
from .evaluation import compare
from .scheduler import EpochResult
from .teacher import Teacher
from .verifiers import Generate, Verifiers

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TuneOutcome:
    """What the tuner did in one call: `done` when the adapter is written; `report` its figures (loss, perplexity)."""

    done: bool
    step: int
    report: dict[str, Any] = field(default_factory=dict)


# (prompt, answer) pairs, should_pause -> outcome: section 1's trainer behind a seam, resuming from its checkpoints
Tuner = Callable[[Sequence[tuple[str, str]], Callable[[], bool]], TuneOutcome]
# model id -> a greedy Generate for it (the base student's id, and the adapter's id once it is registered)
Students = Callable[[str], Generate]


@dataclass(frozen=True, slots=True)
class DistillPlan:
    student: str  # the base student's model id
    out_name: str  # the adapter's model id
    split: Split
    min_examples: int = 4  # fewer passing answers than this teach nothing worth an adapter


def _key(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:32]


class DistillJob:
    def __init__(self, plan: DistillPlan, teacher: Teacher, tuner: Tuner, students: Students,
                 verifiers: Verifiers, workdir: Path) -> None:
        self._plan = plan
        self._teacher = teacher
        self._tuner = tuner
        self._students = students
        self._verifiers = verifiers
        self._workdir = workdir
        try:
            workdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DistillError(f"cannot use the work folder {workdir}: {exc.strerror or exc}") from None
        self._taught_file = workdir / "taught.jsonl"
        self._report_file = workdir / "report.json"
        self._tune_file = workdir / "tune.json"

    # ---- what is stored in the work folder ---------------------------------------------------------------------
    def taught(self) -> dict[str, dict[str, Any]]:
        """Teaching results so far by prompt key; a line cut short by a kill is taught again."""
        found: dict[str, dict[str, Any]] = {}
        if self._taught_file.exists():
            for line in self._taught_file.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and isinstance(record.get("key"), str):
                    found[record["key"]] = record
        return found

    def _append(self, record: dict[str, Any]) -> None:
        with self._taught_file.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")

    def examples(self) -> list[tuple[str, str]]:
        taught = self.taught()
        return [(item.prompt, taught[_key(item.prompt)]["answer"]) for item in self._plan.split.train
                if taught.get(_key(item.prompt), {}).get("answer")]

    # ---- the stages --------------------------------------------------------------------------------------------
    def _teach(self, should_pause: Callable[[], bool]) -> bool:
        """Teach every untaught training prompt; False when paused first."""
        taught = self.taught()
        for item in self._plan.split.train:
            key = _key(item.prompt)
            if key in taught:
                continue
            if should_pause():
                return False
            try:
                result = self._teacher.teach(item.prompt, item.check)
            except DistillError as exc:  # this prompt cannot be checked (no grant for the code runner…): skip it
                self._append({"key": key, "kind": item.check.kind, "answer": None, "passed_samples": 0,
                              "reason": str(exc)[:200]})
                continue
            self._append({"key": key, "kind": item.check.kind, "answer": result.answer if result else None,
                          "passed_samples": result.passed_samples if result else 0,
                          "reason": result.verdict.reason if result else "no sample passed"})
        return True

    def _evaluate(self, tune_report: dict[str, Any], should_pause: Callable[[], bool]) -> dict[str, Any] | None:
        items = [(i.prompt, i.check) for i in self._plan.split.heldout]
        result, attempts = compare(items, self._students(self._plan.student), self._students(self._plan.out_name),
                                   self._verifiers, stopped=should_pause)
        if should_pause():
            return None  # paused: evaluated again in full next time (answers are cheap next to the tune)
        taught = self.taught()
        kinds: dict[str, int] = {}
        for item in self._plan.split.train + self._plan.split.heldout:
            kinds[item.check.kind] = kinds.get(item.check.kind, 0) + 1
        report = {
            "student": self._plan.student, "adapter": self._plan.out_name,
            "data_summary": {"prompts": len(self._plan.split.train) + len(self._plan.split.heldout),
                             "train": len(self._plan.split.train), "heldout": len(items), "by_check": kinds,
                             "taught": sum(1 for r in taught.values() if r.get("answer"))},
            "heldout": result.as_dict(),
            "by_kind": _by_kind(attempts),
            "tune": tune_report,
        }
        self._report_file.write_text(json.dumps(report, indent=1), encoding="utf-8")
        return report

    def report(self) -> dict[str, Any] | None:
        if not self._report_file.exists():
            return None
        value = json.loads(self._report_file.read_text(encoding="utf-8"))
        return value if isinstance(value, dict) else None

    def mini_epoch(self, should_pause: Callable[[], bool]) -> EpochResult:
        """As much as it can until `should_pause()`; done once the evaluation is written."""
        done_report = self.report()
        if done_report is not None:
            return EpochResult(True, len(self.taught()), done_report)
        if not self._teach(should_pause):
            return EpochResult(False, len(self.taught()))
        examples = self.examples()
        if len(examples) < self._plan.min_examples:
            raise DistillError(f"only {len(examples)} teacher answers passed their checks; at least "
                               f"{self._plan.min_examples} are needed to tune on")
        tuned = self._tune_state()
        if not tuned.get("done"):
            outcome = self._tuner(examples, should_pause)
            tuned = {"done": outcome.done, "step": outcome.step, "report": outcome.report}
            self._tune_file.write_text(json.dumps(tuned), encoding="utf-8")
            if not outcome.done:
                return EpochResult(False, len(self.taught()) + outcome.step)
        report = self._evaluate(tuned.get("report", {}), should_pause)
        step = len(self.taught()) + int(tuned.get("step", 0))
        return EpochResult(report is not None, step, report)

    def _tune_state(self) -> dict[str, Any]:
        try:
            value = json.loads(self._tune_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    def run(self, should_pause: Callable[[], bool] = lambda: False) -> dict[str, Any] | None:
        """In the foreground: mini-epochs until done or paused; the report, or None when paused."""
        while True:
            result = self.mini_epoch(should_pause)
            if result.done:
                return result.evaluation
            if should_pause():
                return None


def _by_kind(attempts: Sequence[Any]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for a in attempts:
        row = out.setdefault(a.kind, {"n": 0, "base_passed": 0, "tuned_passed": 0})
        row["n"] += 1
        row["base_passed"] += a.base_passed
        row["tuned_passed"] += a.tuned_passed
    return out

