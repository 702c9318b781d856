"""The hybrid trainer's dynamics model: the next parameter update predicted from the recent real ones.

Small on purpose: per chunk of `chunk_size` parameters one coefficient a, fitted by least squares on consecutive
real updates (d[t+1] ~ a * d[t], a clipped to [0, 1] so a prediction never grows), and k steps ahead a**k * d[last].
Its confidence is 1 - the mean relative error of its recent one-step predictions of real updates: a measured
figure, not a guess. torch is imported by the caller; tensors here are flat float vectors."""

from __future__ import annotations

from collections import deque
from typing import Any


def chunk_dot(x: Any, y: Any, chunk_size: int) -> Any:
    """Per-chunk dot products of two flat tensors (the last chunk zero-padded)."""
    from torch.nn import functional  # third-party, optional extra

    product = x * y
    pad = (-product.numel()) % chunk_size
    return functional.pad(product, (0, pad)).view(-1, chunk_size).sum(dim=1)


def relative_error(prediction: Any, actual: Any) -> float:
    """||prediction - actual|| / ||actual||; a zero actual update with any prediction error counts as error 1."""
    norm = float(actual.norm())
    diff = float((prediction - actual).norm())
    if norm == 0.0:
        return 0.0 if diff == 0.0 else 1.0
    return diff / norm


class DeltaModel:
    """Predicts parameter updates from a short history of real, consecutive ones."""

    def __init__(self, chunk_size: int, window: int) -> None:
        self._chunk = chunk_size
        self._deltas: deque[tuple[int, Any]] = deque(maxlen=window)
        self._errors: deque[float] = deque(maxlen=window)
        self._coefficients: Any = None

    def reset(self) -> None:
        """Forget everything: after a divergence the old updates describe another landscape."""
        self._deltas.clear()
        self._errors.clear()
        self._coefficients = None

    @property
    def ready(self) -> bool:
        """True once a coefficient could be fitted (two consecutive real updates)."""
        return self._coefficients is not None

    @property
    def confidence(self) -> float:
        """1 - mean recent one-step relative error, within [0, 1]; 0 before two errors are measured."""
        if len(self._errors) < 2:
            return 0.0
        return max(0.0, min(1.0, 1.0 - sum(self._errors) / len(self._errors)))

    @property
    def last_step(self) -> int | None:
        return self._deltas[-1][0] if self._deltas else None

    def predict(self, ahead: int = 1) -> Any:
        """The update `ahead` steps after the last real one."""
        if self._coefficients is None:
            raise RuntimeError("the dynamics model has no fitted coefficient yet")
        last = self._deltas[-1][1]
        scale = (self._coefficients ** ahead).repeat_interleave(self._chunk)[: last.numel()]
        return scale * last

    def observe(self, step: int, delta: Any) -> float | None:
        """Learn from the real update of `step`; returns the relative error of the one-step prediction of it (None
        when the model could not predict it: not ready, or the last real update was not the step before)."""
        error = None
        if self._coefficients is not None and self.last_step == step - 1:
            error = relative_error(self.predict(1), delta)
            self._errors.append(error)
        self._deltas.append((step, delta.detach().clone()))
        self._fit()
        return error

    def _fit(self) -> None:
        pairs = [(a, b) for (sa, a), (sb, b) in zip(self._deltas, list(self._deltas)[1:], strict=False)
                 if sb == sa + 1]
        if not pairs:
            return
        numerator = sum(chunk_dot(b, a, self._chunk) for a, b in pairs)
        denominator = sum(chunk_dot(a, a, self._chunk) for a, _ in pairs)
        ratio = numerator / denominator.clamp_min(1e-30)
        self._coefficients = ratio.clamp(0.0, 1.0)
