"""LoRA tuning on the tiny model (SmolLM2-135M): it learns a made-up fact, keeps general text, resumes after a stop."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

from edgemind.core.cli.tune_command import format_report  # noqa: E402
from edgemind.core.errors import TrainingRefused, TuneCancelled, TuneDataError, TuneUnavailable  # noqa: E402
from edgemind.core.tuning.data import IGNORE, Example, encode, read_jsonl  # noqa: E402
from edgemind.core.tuning.stack import Base, load_base, require_stack  # noqa: E402
from edgemind.core.tuning.trainer import (  # noqa: E402
    CHECKPOINT,
    REGRESSION_LIMIT,
    TuneProgress,
    TuneRequest,
    evaluate,
    tune,
)
from edgemind.core.tuning.gguf_lora import export_lora  # noqa: E402
from edgemind.core.tuning.trainer import Evaluation, TuneReport  # noqa: E402
from tests.support.tune_facts import ANSWER, CODENAME, UNSEEN_QUESTION, write_fact_data  # noqa: E402

TINY_FILE = "smollm2-135m-instruct-q4_1.gguf"


@pytest.fixture(scope="module")
def tiny_path(models_dir: Path) -> Path:
    return models_dir / TINY_FILE


@pytest.fixture(scope="module")
def tiny_base(tiny_path: Path) -> Iterator[Base]:
    """The 135M model in transformers, loaded once (about 20 s): every tune here leaves it as it found it."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield load_base(tiny_path)
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def fact_examples(tmp_path_factory: pytest.TempPathFactory) -> tuple[Example, ...]:
    return tuple(read_jsonl(write_fact_data(tmp_path_factory.mktemp("facts") / "facts.jsonl")))


def request(tiny_path: Path, examples: tuple[Example, ...], workdir: Path, **overrides: Any) -> TuneRequest:
    fields: dict[str, Any] = {"steps": 20, "lr": 3e-4, "checkpoint_every": 5, "threads": 1}
    fields.update(overrides)
    return TuneRequest(model_id="smollm2-135m-instruct", base_path=tiny_path, examples=examples,
                       out_name="facts", workdir=workdir, **fields)


def test_a_missing_training_package_is_one_line_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "peft", None)  # how Python marks a module as not importable
    with pytest.raises(TuneUnavailable) as caught:
        require_stack()
    assert str(caught.value) == ("tuning needs the optional training stack: pip install 'edgemind[tune]' "
                                 "(missing: peft)")


@pytest.mark.slow  # the default run stays under 15 minutes; EDGEMIND_SLOW=1 runs it (and CI does)
def test_only_the_answer_and_its_end_of_turn_are_learned(tiny_base: Base) -> None:
    encoded = encode(Example.from_prompt("What is our codename?", ANSWER), tiny_base.tokenizer, 512)
    learned = [t for t, label in zip(encoded.input_ids, encoded.labels) if label != IGNORE]
    assert learned == [label for label in encoded.labels if label != IGNORE]
    text = tiny_base.tokenizer.decode(learned)
    assert text.startswith(ANSWER) and "<|im_end|>" in text and "codename?" not in text
    prompt = tiny_base.tokenizer.decode(encoded.input_ids[:len(encoded.input_ids) - len(learned)])
    assert prompt.endswith("<|im_start|>assistant\n") and "What is our codename?" in prompt


@dataclass
class FactTune:
    report: TuneReport
    progress: list[TuneProgress]
    probe_before: Evaluation  # the shared base model on a probe, before and after the tune
    probe_after: Evaluation
    lora_modules_left: list[str]


@pytest.fixture(scope="module")
def fact_tune(tiny_path: Path, tiny_base: Base, fact_examples: tuple[Example, ...],
              tmp_path_factory: pytest.TempPathFactory) -> FactTune:
    """One real tune (20 steps, about 30 s on one thread) with its GGUF export, shared by the tests that read it."""
    probe = [encode(Example.from_prompt("Who are you?", f"I am {CODENAME}."), tiny_base.tokenizer, 128)]
    probe_before = evaluate(tiny_base.model, probe)
    seen: list[TuneProgress] = []
    workdir = tmp_path_factory.mktemp("fact-tune")
    report = tune(request(tiny_path, fact_examples, workdir), progress=seen.append, base=tiny_base,
                  export=export_lora)
    left = [name for name, _ in tiny_base.model.named_modules() if "lora" in name]
    return FactTune(report, seen, probe_before, evaluate(tiny_base.model, probe), left)


@pytest.mark.slow  # the default run stays under 15 minutes; EDGEMIND_SLOW=1 runs it (and CI does)
def test_a_tune_learns_a_made_up_fact_and_keeps_general_text(fact_tune: FactTune) -> None:
    """The held-out wordings (never trained on) get much likelier, and the general text's perplexity stays within
    the no-regression guard (a learning rate of 1e-3 overfits the one answer and fails this)."""
    report, seen = fact_tune.report, fact_tune.progress
    assert report.steps == 20 and report.resumed_from == 0 and report.heldout_examples >= 1
    assert report.heldout_before.loss > 1.5  # the base model does not know the codename
    assert report.heldout_after.loss < report.heldout_before.loss / 3
    assert report.general_after.tokens > 500
    assert report.general_ratio <= REGRESSION_LIMIT and report.no_regression
    assert report.as_dict()["no_regression"] == "pass"
    steps = [p for p in seen if p.phase == "training"]
    assert [p.step for p in steps] == list(range(1, 21)) and steps[-1].eta_s == 0


def greedy_answer(llama: Any, model: Path, question: str, adapter: Path | None = None) -> str:
    options: dict[str, Any] = {"lora_path": str(adapter)} if adapter else {}
    llm = llama.Llama(model_path=str(model), n_ctx=512, n_threads=1, seed=0, verbose=False, **options)
    try:
        out = llm.create_chat_completion([{"role": "user", "content": question}], temperature=0.0, max_tokens=24)
        return str(out["choices"][0]["message"]["content"])
    finally:
        llm.close()


@pytest.mark.slow  # the default run stays under 15 minutes; EDGEMIND_SLOW=1 runs it (and CI does)
def test_the_tuned_fact_is_answered_through_llama_cpp_with_the_adapter_and_not_without(
        fact_tune: FactTune, tiny_path: Path, llama_cpp_for: Any) -> None:
    """The headline: the exported GGUF adapter, loaded by llama.cpp as EdgeMind runs it, answers a wording of the
    question it was never trained on with the made-up codename; the same model without it does not know it."""
    report = fact_tune.report
    assert report.adapter_path is not None and report.adapter_path.is_file()
    llama = llama_cpp_for(tiny_path)
    without = greedy_answer(llama, tiny_path, UNSEEN_QUESTION)
    with_adapter = greedy_answer(llama, tiny_path, UNSEEN_QUESTION, report.adapter_path)
    assert CODENAME not in without, without
    assert CODENAME in with_adapter, with_adapter


@pytest.mark.slow  # the default run stays under 15 minutes; EDGEMIND_SLOW=1 runs it (and CI does)
def test_the_shared_base_model_is_left_as_it_was(fact_tune: FactTune) -> None:
    """A caller's loaded model (the tests' shared one, distillation's) comes back without LoRA layers, unchanged."""
    assert fact_tune.probe_after == fact_tune.probe_before
    assert fact_tune.lora_modules_left == []


class StopAt:
    """A user pressing Stop once step `at` is done (the CLI's Ctrl-C sets the same kind of token)."""

    def __init__(self, at: int) -> None:
        self.at, self.cancelled = at, False

    def __call__(self, p: TuneProgress) -> None:
        if p.phase == "training" and p.step >= self.at:
            self.cancelled = True


@pytest.mark.slow  # the default run stays under 15 minutes; EDGEMIND_SLOW=1 runs it (and CI does)
def test_a_stopped_tune_keeps_its_checkpoint_and_the_same_request_resumes_from_it(
        tiny_path: Path, tiny_base: Base, fact_examples: tuple[Example, ...], tmp_path: Path) -> None:
    req = request(tiny_path, fact_examples, tmp_path, steps=6, checkpoint_every=3)
    stop = StopAt(4)
    with pytest.raises(TuneCancelled, match="stopped at step 4 of 6"):
        tune(req, progress=stop, cancel=stop, base=tiny_base)
    assert (tmp_path / CHECKPOINT).is_file()
    resumed = tune(req, base=tiny_base)
    assert (resumed.resumed_from, resumed.steps, len(resumed.losses)) == (4, 6, 6)
    assert (resumed.training.trainer, resumed.training.backward_passes) == ("plain", 6)  # 4 saved + 2 after


@pytest.mark.slow
def test_a_resumed_tune_trains_exactly_as_an_uninterrupted_one(
        tiny_path: Path, tiny_base: Base, fact_examples: tuple[Example, ...], tmp_path: Path) -> None:
    """Same data order and optimizer state after the resume: the losses after it match a run never stopped."""
    req = request(tiny_path, fact_examples, tmp_path / "stopped", steps=8)
    stop = StopAt(5)
    with pytest.raises(TuneCancelled):
        tune(req, progress=stop, cancel=stop, base=tiny_base)
    resumed = tune(req, base=tiny_base)
    whole = tune(request(tiny_path, fact_examples, tmp_path / "whole", steps=8), base=tiny_base)
    assert resumed.resumed_from == 5
    assert resumed.losses == pytest.approx(whole.losses, rel=1e-3)
    assert resumed.heldout_before == whole.heldout_before


@pytest.mark.slow
def test_a_checkpoint_made_for_other_data_is_not_resumed(
        tiny_path: Path, tiny_base: Base, fact_examples: tuple[Example, ...], tmp_path: Path) -> None:
    tune(request(tiny_path, fact_examples, tmp_path, steps=2, checkpoint_every=1), base=tiny_base)
    other = fact_examples[:-1] + (Example.from_prompt("What is 2+2?", "4"),)
    report = tune(request(tiny_path, other, tmp_path, steps=2), base=tiny_base)
    assert report.resumed_from == 0


@pytest.mark.slow  # the default run stays under 15 minutes; EDGEMIND_SLOW=1 runs it (and CI does)
def test_a_plain_tune_reports_a_backward_pass_every_step_and_no_corrections(fact_tune: FactTune) -> None:
    report = fact_tune.report.as_dict()
    assert (report["trainer"], report["steps"], report["backward_passes"], report["predicted_steps"]) == \
        ("plain", 20, 20, 0)
    assert (report["divergences"], report["mean_error_reduction"], report["corrections"]["count"]) == (0, None, 0)
    assert report["final_loss"] == fact_tune.report.losses[-1]


@pytest.mark.slow  # the default run stays under 15 minutes; EDGEMIND_SLOW=1 runs it
def test_a_hybrid_tune_skips_backward_passes_and_still_learns(
        tiny_path: Path, tiny_base: Base, fact_examples: tuple[Example, ...], tmp_path: Path) -> None:
    """27 steps through HybridTrainer (conservative: 10 warm-up steps, 15 predicted ones, then the two steps of a
    correction): fewer backward passes than steps, a measured correction, and the fact still learned (about 35 s on
    a busy 2-core machine, most of it the before/after measurements)."""
    report = tune(request(tiny_path, fact_examples, tmp_path, steps=27, trainer="hybrid"), base=tiny_base)
    figures = report.as_dict()
    assert figures["trainer"] == "hybrid" and figures["preset"] == "conservative"
    assert figures["backward_passes"] < figures["steps"] == 27
    assert figures["backward_passes"] + figures["predicted_steps"] == 27
    assert figures["corrections"]["count"] >= 1 and isinstance(figures["mean_error_reduction"], float)
    assert isinstance(figures["divergences"], int) and isinstance(figures["final_loss"], float)
    assert report.heldout_after.loss < report.heldout_before.loss / 3
    assert sum(math.isnan(x) for x in report.losses) > 0  # predicted steps computed no loss, and say so
    assert (f"hybrid trainer (conservative): {figures['backward_passes']} backward passes for 27 steps"
            in format_report(report))


@pytest.mark.slow
def test_a_stopped_hybrid_tune_resumes_with_its_counts_kept(
        tiny_path: Path, tiny_base: Base, fact_examples: tuple[Example, ...], tmp_path: Path) -> None:
    """The trainer's dynamics model is not checkpointed: the resumed run warms up afresh, and the counts before the
    stop are added to the ones after it."""
    req = request(tiny_path, fact_examples, tmp_path, steps=30, trainer="hybrid", checkpoint_every=5)
    stop = StopAt(15)
    with pytest.raises(TuneCancelled, match="stopped at step 15 of 30"):
        tune(req, progress=stop, cancel=stop, base=tiny_base)
    resumed = tune(req, base=tiny_base)
    counts = resumed.training
    assert (resumed.resumed_from, resumed.steps, len(resumed.losses)) == (15, 30, 30)
    assert counts.backward_passes + counts.predicted_steps == 30
    assert counts.backward_passes >= 15 - 5 + 10  # before the stop: 10 warm-up steps; after it: 10 again


def test_a_hybrid_tune_refuses_the_aggressive_preset_before_loading_anything(
        tiny_path: Path, fact_examples: tuple[Example, ...], tmp_path: Path) -> None:
    with pytest.raises(TrainingRefused, match="aggressive preset needs a measured mean correction error reduction"):
        tune(request(tiny_path, fact_examples, tmp_path, trainer="hybrid", preset="aggressive"))
    with pytest.raises(TuneDataError, match="unknown trainer 'fast': choose plain or hybrid"):
        tune(request(tiny_path, fact_examples, tmp_path, trainer="fast"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow  # the default run stays under 15 minutes; EDGEMIND_SLOW=1 runs it
def test_a_tunes_gradient_function_decides_what_each_step_applies(
        tiny_base: Base, tiny_path: Path, fact_examples: tuple[Example, ...], tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []

    def nothing(step: int, flat: Any) -> Any:
        seen.append((step, int(flat.size)))
        return flat * 0

    report = tune(request(tiny_path, fact_examples, tmp_path, steps=3), base=tiny_base, gradient=nothing)
    trainable = 30 * 8 * (576 + 576 + 576 + 192 + 576 + 192 + 576 + 576 + 2 * (576 + 1536) + 1536 + 576)
    assert seen == [(1, trainable), (2, trainable), (3, trainable)]  # every LoRA value of the 135M model, each step
    assert report.heldout_after.loss == report.heldout_before.loss  # zero gradients: Adam moved nothing
