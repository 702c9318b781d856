"""Correction accuracy, measured as the design asks: at each correction point the prediction's error against the
real update, the corrected prediction's error against the same real update, and the share of error removed."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CorrectionRecord:
    """One correction point: relative errors ||pred - actual|| / ||actual|| before and after the correction."""

    step: int
    prediction_error: float
    corrected_error: float
    error_reduction: float


@dataclass(frozen=True, slots=True)
class CorrectionSummary:
    """Per-run statistics of the error reduction (None where no correction was measured)."""

    count: int
    mean: float | None
    median: float | None
    minimum: float | None
    maximum: float | None
    mean_prediction_error: float | None
    mean_corrected_error: float | None
    share_at_least_95: float | None


def error_reduction(prediction_error: float, corrected_error: float) -> float:
    """(pred_err - corr_err) / pred_err: 1 when the correction removes all error, negative when it adds some.

    A prediction with no error leaves nothing to reduce: 0 then, so a perfect prediction never counts as a perfect
    correction."""
    if prediction_error < 0 or corrected_error < 0:
        raise ValueError("errors are distances: never negative")
    if prediction_error == 0:
        return 0.0
    return (prediction_error - corrected_error) / prediction_error


def summarize(records: Sequence[CorrectionRecord]) -> CorrectionSummary:
    """The run's statistics; every field None when the run made no correction."""
    if not records:
        return CorrectionSummary(0, None, None, None, None, None, None, None)
    reductions = [r.error_reduction for r in records]
    return CorrectionSummary(
        count=len(records),
        mean=statistics.fmean(reductions),
        median=statistics.median(reductions),
        minimum=min(reductions),
        maximum=max(reductions),
        mean_prediction_error=statistics.fmean(r.prediction_error for r in records),
        mean_corrected_error=statistics.fmean(r.corrected_error for r in records),
        share_at_least_95=sum(r >= 0.95 for r in reductions) / len(reductions),
    )
