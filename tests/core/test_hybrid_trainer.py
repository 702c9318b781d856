"""The hybrid trainer on the digits MLP (seconds): backward passes skipped in predicted steps, a real loss spike sends
it back to full training at once, aggressive refused below 95% measured error reduction, the formula as designed."""

from __future__ import annotations

import logging
import sys
from dataclasses import replace
from typing import Any

import pytest

from edgemind.core.errors import TrainingRefused, TuneError
from edgemind.core.training import HybridTrainer, PlainTrainer, error_reduction, preset, summarize
from edgemind.core.training.accuracy import CorrectionRecord

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from edgemind.core.training.digits import build_model, cross_entropy, load_digits  # noqa: E402


@pytest.fixture(scope="module")
def digits() -> Any:
    torch.set_num_threads(1)
    return load_digits(seed=0)


def trainer(digits: Any, name: str = "conservative", lr: float = 0.01) -> tuple[HybridTrainer, tuple[Any, Any]]:
    model = build_model("mlp", seed=0)
    return (HybridTrainer(model, torch.optim.Adam(model.parameters(), lr=lr), cross_entropy, preset(name)),
            (digits.train_x, digits.train_y))


def test_predicted_steps_run_no_backward_pass(digits: Any) -> None:
    hybrid, batch = trainer(digits)
    for _ in range(120):
        hybrid.step(batch)
    phases = [r.phase for r in hybrid.records]
    assert phases.count("predict") > 0
    # every full or correcting step is one backward pass, and a predicted step none
    assert hybrid.backward_passes == phases.count("full") + phases.count("correct")
    assert hybrid.backward_passes < 120
    report = hybrid.report()
    assert report.steps == 120 and report.backward_passes + report.predicted_steps == 120


def test_plain_trainer_runs_one_backward_pass_a_step(digits: Any) -> None:
    model = build_model("mlp", seed=0)
    plain = PlainTrainer(model, torch.optim.Adam(model.parameters(), lr=0.01), cross_entropy)
    for _ in range(5):
        plain.step((digits.train_x, digits.train_y))
    assert plain.report().backward_passes == 5


def test_a_loss_spike_from_changed_data_falls_back_to_full_training_at_once(digits: Any) -> None:
    hybrid, batch = trainer(digits)
    while hybrid.phase != "predict":
        hybrid.step(batch)
        assert hybrid.steps < 100, "never reached a predict phase"
    # The data changes under it: the labels shifted by one class, a real loss spike and no mock.
    shifted = (digits.train_x, (digits.train_y + 1) % 10)
    switched_at = hybrid.steps
    while hybrid.divergences == 0:
        hybrid.step(shifted)
        assert hybrid.steps - switched_at <= hybrid.config.divergence_interval, "the spike was not caught in time"
    spike = hybrid.records[-1]
    assert "divergence" in spike.decision
    backward_before = hybrid.backward_passes
    assert hybrid.step(shifted).phase == "full"
    assert hybrid.backward_passes == backward_before + 1


def test_divergence_rolls_back_to_the_last_checked_parameters(digits: Any) -> None:
    hybrid, batch = trainer(digits)
    while hybrid.phase != "predict":
        hybrid.step(batch)
    checked = torch.nn.utils.parameters_to_vector(hybrid.model.parameters()).detach().clone()
    shifted = (digits.train_x, (digits.train_y + 1) % 10)
    while hybrid.divergences == 0:
        hybrid.step(shifted)
    after = torch.nn.utils.parameters_to_vector(hybrid.model.parameters()).detach()
    assert torch.equal(after, checked)


def test_aggressive_is_refused_without_corrections_and_below_95_percent(digits: Any) -> None:
    model = build_model("mlp", seed=0)
    with pytest.raises(TrainingRefused, match="none is measured yet"):
        HybridTrainer(model, torch.optim.Adam(model.parameters()), cross_entropy, preset("aggressive"))
    hybrid, batch = trainer(digits)
    while len(hybrid.corrections) < 2:
        hybrid.step(batch)
        assert hybrid.steps < 200, "no corrections measured"
    mean = hybrid.correction_summary().mean
    assert mean is not None and mean < 0.95
    with pytest.raises(TrainingRefused, match=f"measured {mean:.1%}") as refused:
        hybrid.use_preset("aggressive")
    assert "\n" not in str(refused.value)
    assert hybrid.config.preset == "conservative"
    hybrid.use_preset("balanced")
    assert hybrid.config.preset == "balanced"


def test_every_correction_is_recorded_with_the_designed_formula(digits: Any) -> None:
    hybrid, batch = trainer(digits)
    for _ in range(120):
        hybrid.step(batch)
    assert hybrid.corrections
    for record in hybrid.corrections:
        expected = (record.prediction_error - record.corrected_error) / record.prediction_error
        assert record.error_reduction == pytest.approx(expected)
        assert hybrid.records[record.step - 1].phase == "correct"


def test_phases_and_decisions_are_logged(digits: Any, caplog: pytest.LogCaptureFixture) -> None:
    hybrid, batch = trainer(digits)
    with caplog.at_level(logging.INFO, logger="edgemind.core.training.hybrid"):
        for _ in range(60):
            hybrid.step(batch)
    text = caplog.text
    assert "predict: confidence" in text and "reduction" in text
    assert {r.phase for r in hybrid.records} == {"full", "predict", "correct"}
    assert all(r.decision for r in hybrid.records)


def test_error_reduction_formula() -> None:
    assert error_reduction(0.5, 0.1) == pytest.approx(0.8)
    assert error_reduction(0.5, 0.0) == 1.0
    assert error_reduction(0.2, 0.4) == pytest.approx(-1.0)
    assert error_reduction(0.0, 0.0) == 0.0
    with pytest.raises(ValueError):
        error_reduction(-1.0, 0.1)
    summary = summarize([CorrectionRecord(1, 0.5, 0.1, 0.8), CorrectionRecord(2, 1.0, 0.0, 1.0),
                         CorrectionRecord(3, 0.4, 0.2, 0.5)])
    assert summary.count == 3 and summary.mean == pytest.approx(2.3 / 3) and summary.median == 0.8
    assert summary.share_at_least_95 == pytest.approx(1 / 3)
    assert summarize([]).mean is None


def test_bad_settings_are_one_line_errors() -> None:
    with pytest.raises(TrainingRefused, match="unknown hybrid preset 'fast'"):
        preset("fast")
    with pytest.raises(TrainingRefused, match="confidence_threshold"):
        replace(preset("conservative"), confidence_threshold=1.5)


def test_a_missing_training_stack_is_one_line_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from edgemind.core.errors import TuneUnavailable

    monkeypatch.setitem(sys.modules, "torch", None)  # what an install without the [tune] extra looks like to import
    with pytest.raises(TuneUnavailable, match=r"pip install 'edgemind\[tune\]' \(missing: torch\)"):
        HybridTrainer(object(), object(), cross_entropy)
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(TuneUnavailable, match="missing: scikit-learn"):
        load_digits()


def test_a_plain_trainers_gradient_function_sees_the_real_gradient_and_replaces_it(digits: Any) -> None:
    batch = (digits.train_x, digits.train_y)
    seen: list[tuple[int, Any]] = []

    def probe(step: int, flat: Any) -> Any:
        seen.append((step, flat.copy()))
        return flat

    runs = []
    for gradient in (None, probe, lambda _step, flat: flat * 0):
        model = build_model("mlp", seed=0)
        plain = PlainTrainer(model, torch.optim.Adam(model.parameters(), lr=0.01), cross_entropy, gradient)
        for _ in range(3):
            plain.step(batch)
        runs.append(torch.nn.utils.parameters_to_vector(model.parameters()).detach())
    assert torch.equal(runs[0], runs[1])  # the probe only watched
    assert [step for step, _ in seen] == [1, 2, 3] and seen[0][1].size == runs[0].numel()
    assert not torch.equal(runs[0], runs[2])
    fresh = torch.nn.utils.parameters_to_vector(build_model("mlp", seed=0).parameters()).detach()
    assert torch.equal(runs[2], fresh)  # a zero gradient moved nothing: what was applied is what the function gave
    model = build_model("mlp", seed=0)
    short = PlainTrainer(model, torch.optim.Adam(model.parameters()), cross_entropy, lambda _s, flat: flat[:-1])
    with pytest.raises(TuneError, match="returned 4809 values for 4810"):
        short.step(batch)
