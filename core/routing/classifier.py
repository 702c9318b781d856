"""The learned half of the intent router: softmax regression over [sentence embedding, cheap signals] mixed with a
vote of the nearest training prompts, trained in numpy from the labelled prompts the project ships.

Training is deterministic (no random state) and never reads the held-out split. Every setting below was chosen by
5-fold cross-validation on the training split (`benchmarks/router.py --cv`), never on the held-out one.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import ConfigError
from .lexicons import LEXICONS, Lexicons
from .signals import FEATURES, FEATURES_VERSION, INTENTS, Signals, cross_fitted_signals
from ..classify.json_lines import read_objects

log = logging.getLogger("edgemind.router")

FOLDS = 5  # cross-fitting folds for the signals the classifier trains on
L2 = 1e-4
SIGNAL_SCALE = 0.25  # standardised signals next to a unit-length embedding: 0.5 and 1.0 cross-validated worse
STEPS = 400  # more steps (1000) fitted the folds' own topics better and the other folds worse
LEARNING_RATE = 0.5
NEIGHBOURS = 15
NEIGHBOUR_SHARPNESS = 10.0  # votes weigh exp(sharpness * cosine): close prompts count much more than far ones
NEIGHBOUR_SHARE = 0.3  # the vote's share in the final probabilities (+1% cross-validated accuracy over none)
TRAINER_VERSION = "2"


@dataclass(frozen=True, slots=True)
class LabelledPrompt:
    prompt: str
    intent: str
    lang: str = ""


def load_examples(path: Path) -> list[LabelledPrompt]:
    """Lines of {"prompt", "intent"[, "lang"]}; a broken line is a ConfigError naming the file and line."""
    examples = []
    for number, row in read_objects(path, ConfigError):
        if not isinstance(row.get("prompt"), str) or not row["prompt"].strip():
            raise ConfigError(f"{path}:{number}: expected a non-empty \"prompt\" string")
        if row.get("intent") not in INTENTS:
            raise ConfigError(f"{path}:{number}: intent {row.get('intent')!r} is not one of {', '.join(INTENTS)}")
        examples.append(LabelledPrompt(row["prompt"], row["intent"], str(row.get("lang", ""))))
    missing = set(INTENTS) - {e.intent for e in examples}
    if missing:
        raise ConfigError(f"{path}: every intent needs examples; none for {', '.join(sorted(missing))}")
    return examples


@dataclass(frozen=True, slots=True)
class Prediction:
    probabilities: np.ndarray  # (len(INTENTS),), sums to 1
    nearest: float  # cosine similarity of the closest training prompt: low means unlike anything trained on


@dataclass(frozen=True, slots=True)
class IntentModel:
    """Everything routing needs at run time: one matrix product, one similarity row and a softmax."""

    weights: np.ndarray  # (embedding + signals, intents)
    bias: np.ndarray  # (intents,)
    signal_mean: np.ndarray  # standardisation of the signals, from the training split
    signal_std: np.ndarray
    signal_max: np.ndarray  # the largest value each signal had in training: a longer prompt is not more of one
    neighbours: np.ndarray  # (training prompts, embedding) unit rows
    neighbour_intents: np.ndarray  # (training prompts,) index into INTENTS

    def inputs(self, embeddings: np.ndarray, signals: Sequence[Signals]) -> np.ndarray:
        raw = np.array([s.vector() for s in signals], dtype=np.float32).reshape(len(signals), len(FEATURES))
        # Clipped to what training saw: a 20 KB paste once routed to docs because its length, 60 standard
        # deviations above any training prompt's, outweighed everything else in the linear model.
        scaled = (np.minimum(raw, self.signal_max) - self.signal_mean) / self.signal_std * SIGNAL_SCALE
        return np.hstack([np.asarray(embeddings, np.float32).reshape(len(signals), -1), scaled])

    def predict(self, embeddings: np.ndarray, signals: Sequence[Signals]) -> list[Prediction]:
        learned = _softmax(self.inputs(embeddings, signals) @ self.weights + self.bias)
        similarity = np.asarray(embeddings, np.float32).reshape(len(signals), -1) @ self.neighbours.T
        k = min(NEIGHBOURS, similarity.shape[1])
        closest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        predictions = []
        for row, idx in enumerate(closest):
            sims = similarity[row, idx]
            votes = np.bincount(self.neighbour_intents[idx], weights=np.exp(NEIGHBOUR_SHARPNESS * (sims - sims.max())),
                                minlength=len(INTENTS))
            mixed = (1 - NEIGHBOUR_SHARE) * learned[row] + NEIGHBOUR_SHARE * votes / votes.sum()
            predictions.append(Prediction(mixed, float(sims.max())))
        return predictions


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def train(examples: Sequence[LabelledPrompt], embeddings: np.ndarray, lexicons: Lexicons = LEXICONS) -> IntentModel:
    """Fit on the examples and their embeddings (rows in the same order). Cross-validation passes lexicons cut
    down to its training folds, so a held-back fold's own phrases are unseen, as a new prompt's would be."""
    labels = np.array([INTENTS.index(e.intent) for e in examples])
    # Stratified folds without randomness: the n-th example of each intent goes to fold n % FOLDS.
    seen = dict.fromkeys(INTENTS, 0)
    folds = []
    for e in examples:
        folds.append(seen[e.intent] % FOLDS)
        seen[e.intent] += 1
    signals = cross_fitted_signals([e.prompt for e in examples], folds, lexicons)
    raw = np.array([s.vector() for s in signals], dtype=np.float64)
    std = raw.std(axis=0)
    std[std < 1e-6] = 1.0  # a signal that never fires in training: no divide by zero, and its weight stays ~0
    model = IntentModel(np.zeros(0), np.zeros(0), raw.mean(axis=0).astype(np.float32), std.astype(np.float32),
                        raw.max(axis=0).astype(np.float32), np.asarray(embeddings, np.float32), labels.astype(np.int64))
    weights, bias = _fit_softmax(model.inputs(embeddings, signals).astype(np.float64), labels)
    return IntentModel(weights, bias, model.signal_mean, model.signal_std, model.signal_max, model.neighbours,
                       model.neighbour_intents)


def _fit_softmax(x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """L2-regularised multinomial logistic regression by full-batch gradient descent with Nesterov momentum.

    Primal, unlike the safety classifier's solver: here there are ~400 columns and ~900 rows, so a step over the
    columns is the cheap one (~1 ms). Convex, so the result does not depend on a seed.
    """
    target = np.eye(len(INTENTS))[labels]
    w = np.zeros((x.shape[1], len(INTENTS)))
    b = np.zeros(len(INTENTS))
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    xt = np.ascontiguousarray(x.T)
    for _ in range(STEPS):
        ahead_w, ahead_b = w + 0.9 * vw, b + 0.9 * vb
        error = (_softmax(_by_column(x, ahead_w) + ahead_b) - target) / len(x)
        vw = 0.9 * vw - LEARNING_RATE * (_by_column(xt, error) + L2 * ahead_w)
        vb = 0.9 * vb - LEARNING_RATE * error.sum(axis=0)
        w, b = w + vw, b + vb
    return w.astype(np.float32), b.astype(np.float32)


def _by_column(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b as one matrix-vector product per column of b: for these thin shapes BLAS's threaded matrix product
    took 2.5 ms on a busy 2-core machine, the plain products 0.7 ms (the safety trainer measured the same)."""
    return np.column_stack([a @ b[:, k] for k in range(b.shape[1])])


# ---- the cache of trained models ------------------------------------------------------------------------------------
def model_key(training_data: bytes, policy_intents: Sequence[str], embedder_version: str) -> str:
    """Everything a trained model depends on: the labelled data, the intents the policy routes to, the embedder,
    the features and lexicons, and this trainer. System prompts, models and tools in the policy change nothing
    learned, so editing them does not retrain."""
    settings = [TRAINER_VERSION, FOLDS, L2, SIGNAL_SCALE, STEPS, LEARNING_RATE, FEATURES_VERSION, list(FEATURES),
                sorted(LEXICONS.items()), list(policy_intents), embedder_version]
    digest = hashlib.sha256(training_data)
    digest.update(json.dumps(settings, ensure_ascii=False, default=str).encode("utf-8"))
    return digest.hexdigest()[:24]


def load_model(path: Path) -> IntentModel | None:
    """The cached model, or None when it is missing or unreadable (then it is retrained, never half-trusted)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            model = IntentModel(*(data[name] for name in IntentModel.__slots__))
    except (OSError, KeyError, ValueError, TypeError) as exc:
        log.warning("router model %s is unreadable (%s); retraining", path, exc)
        return None
    if model.weights.shape != (model.neighbours.shape[1] + len(FEATURES), len(INTENTS)):
        log.warning("router model %s has the wrong shape; retraining", path)
        return None
    return model


def save_model(path: Path, model: IntentModel) -> None:
    """Write atomically and drop models trained from older data; a read-only data folder costs a retrain per start."""
    buffer = io.BytesIO()
    np.savez(buffer, **{name: getattr(model, name) for name in IntentModel.__slots__})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_bytes(buffer.getvalue())
        partial.replace(path)  # a reader never sees half a file
        for old in path.parent.glob("intent-model-*.npz"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("cannot cache the router model in %s (%s)", path.parent, exc)
