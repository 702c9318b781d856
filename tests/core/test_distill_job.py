"""The distillation job's resumable stages: teaching results kept in the work folder as they are made (a pause or a
kill loses at most the prompt in hand), too few passing answers refused in one line before any tune, and (slow) the
whole run on the real models: Qwen teaches SmolLM2, the trainer tunes it, both students are compared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgemind.core.errors import DistillError
from edgemind.core.tuning.distill.checks import Check
from edgemind.core.tuning.distill.collect import Item, Split
from edgemind.core.tuning.distill.job import DistillJob, DistillPlan
from edgemind.core.tuning.distill.teacher import Teacher
from edgemind.core.tuning.distill.tuning import TuneSettings, trainer_tuner
from edgemind.core.tuning.distill.verifiers import JsonVerifier, Verifiers

CHECK = Check("json", schema={"type": "object", "required": ["n"]})


def _split(n: int) -> Split:
    return Split(tuple(Item(f"give n={i} as JSON", CHECK) for i in range(n)), (Item("give n=99 as JSON", CHECK),))


class Counting:
    """A stand-in teacher model: answers JSON for even prompts, prose for odd ones; counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, messages: list[tuple[str, str]], seed: int) -> str:
        self.calls += 1
        n = int(messages[-1][1].split("=")[1].split()[0])
        return json.dumps({"n": n}) if n % 2 == 0 else "I think n is small."


def _job(tmp_path: Path, teacher_model: Counting, train: int, min_examples: int = 4) -> DistillJob:
    verifiers = Verifiers({"json": JsonVerifier()})
    tuner = trainer_tuner(TuneSettings("student", tmp_path / "none.gguf", "out", tmp_path / "tune"))
    plan = DistillPlan("student", "out", _split(train), min_examples)
    return DistillJob(plan, Teacher(teacher_model, verifiers, k=2), tuner, lambda model_id: teacher_model, verifiers,
                      tmp_path / "work")


def test_a_paused_job_resumes_teaching_where_it_stopped(tmp_path: Path) -> None:
    model = Counting()
    job = _job(tmp_path, model, train=6)
    asked = iter([False, False, False, True])  # pause before the fourth prompt
    result = job.mini_epoch(lambda: next(asked))
    assert not result.done and result.step == 3 and model.calls == 6
    # a new job over the same folder (a restart) teaches only the rest
    again = Counting()
    job = _job(tmp_path, again, train=6, min_examples=100)
    with pytest.raises(DistillError, match="only 3 teacher answers passed"):
        job.mini_epoch(lambda: False)
    assert again.calls == 6  # three prompts left, two samples each
    assert [p for p, _ in job.examples()] == ["give n=0 as JSON", "give n=2 as JSON", "give n=4 as JSON"]


def test_a_line_cut_short_by_a_kill_is_taught_again(tmp_path: Path) -> None:
    model = Counting()
    job = _job(tmp_path, model, train=2, min_examples=100)
    with pytest.raises(DistillError):
        job.mini_epoch(lambda: False)
    taught = tmp_path / "work" / "taught.jsonl"
    lines = taught.read_text().splitlines()
    taught.write_text(lines[0] + "\n" + lines[1][:20])  # killed while writing the second record
    again = Counting()
    with pytest.raises(DistillError):
        _job(tmp_path, again, train=2, min_examples=100).mini_epoch(lambda: False)
    assert again.calls == 2


@pytest.mark.slow
@pytest.mark.timeout(1800)  # two models on a busy 2-core machine
def test_distillation_end_to_end_on_the_real_models(tmp_path: Path, default_model_installed: Path,
                                                    env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    from edgemind.core.bench.distill_run import main

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    out = tmp_path / "distill.json"
    assert main(["--tasks", "12", "--k", "2", "--steps", "8", "--workdir", str(tmp_path / "w"),
                 "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    held = result["report"]["heldout"]
    assert held["n"] == 6 and 0 <= held["base_passed"] <= 6
    assert result["teacher_pass"]["with_a_passing_sample"] >= 4
    assert result["report"]["tune"]["steps"] == 8
