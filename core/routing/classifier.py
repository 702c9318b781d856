"""The learned half of the intent router: the shared classifier of `core.classify.softmax` over [sentence embedding,
cheap signals], blended with a vote of the nearest training prompts, trained from the labelled prompts we ship.

Training is deterministic (no random state) and never reads the held-out split. Every setting below was chosen by
5-fold cross-validation on the training split (`benchmarks/router.py --cv`), never on the held-out one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..classify.labelled import LabelledPrompt, LabelSet, read_labelled
from ..classify.model_file import content_key, save_arrays
from ..classify.softmax import Fit, Vote, blend, fit_softmax, softmax, vote
from .lexicons import LEXICONS, Lexicons
from .signals import FEATURES, FEATURES_VERSION, INTENTS, Signals, cross_fitted_signals

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
FIT = Fit(l2=L2, steps=STEPS, learning_rate=LEARNING_RATE)
VOTE = Vote(neighbours=NEIGHBOURS, share=NEIGHBOUR_SHARE, sharpness=NEIGHBOUR_SHARPNESS)
# The router's labelled files: {"prompt", "intent"[, "lang"]}, every intent with examples.
INTENT_LABELS = LabelSet(key="intent", labels=INTENTS, every_label=True)


def load_examples(path: Path) -> list[LabelledPrompt]:
    """The router's labelled prompts (label = intent); a broken line is a ConfigError naming the file and line."""
    return read_labelled(path, INTENT_LABELS)


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
        """The regression over [embedding, signals] blended with the vote of the nearest training prompts (by
        embedding alone)."""
        learned = softmax(self.inputs(embeddings, signals) @ self.weights + self.bias)
        votes, nearest = vote(np.asarray(embeddings, np.float32).reshape(len(signals), -1), self.neighbours,
                              self.neighbour_intents, len(INTENTS), VOTE)
        return [Prediction(p, float(n)) for p, n in zip(blend(learned, votes, VOTE), nearest)]


def train(examples: Sequence[LabelledPrompt], embeddings: np.ndarray, lexicons: Lexicons = LEXICONS) -> IntentModel:
    """Fit on the examples and their embeddings (rows in the same order). Cross-validation passes lexicons cut
    down to its training folds, so a held-back fold's own phrases are unseen, as a new prompt's would be."""
    labels = np.array([INTENTS.index(e.label) for e in examples])
    # Stratified folds without randomness: the n-th example of each intent goes to fold n % FOLDS.
    seen = dict.fromkeys(INTENTS, 0)
    folds = []
    for e in examples:
        folds.append(seen[e.label] % FOLDS)
        seen[e.label] += 1
    signals = cross_fitted_signals([e.prompt for e in examples], folds, lexicons)
    raw = np.array([s.vector() for s in signals], dtype=np.float64)
    std = raw.std(axis=0)
    std[std < 1e-6] = 1.0  # a signal that never fires in training: no divide by zero, and its weight stays ~0
    model = IntentModel(np.zeros(0), np.zeros(0), raw.mean(axis=0).astype(np.float32), std.astype(np.float32),
                        raw.max(axis=0).astype(np.float32), np.asarray(embeddings, np.float32), labels.astype(np.int64))
    weights, bias = fit_softmax(model.inputs(embeddings, signals).astype(np.float64), labels, len(INTENTS), FIT)
    return IntentModel(weights, bias, model.signal_mean, model.signal_std, model.signal_max, model.neighbours,
                       model.neighbour_intents)


# ---- the cache of trained models ------------------------------------------------------------------------------------
def model_key(training_data: bytes, policy_intents: Sequence[str], embedder_version: str) -> str:
    """Everything a trained model depends on: the labelled data, the intents the policy routes to, the embedder,
    the features and lexicons, and this trainer. System prompts, models and tools in the policy change nothing
    learned, so editing them does not retrain."""
    settings = [TRAINER_VERSION, FOLDS, L2, SIGNAL_SCALE, STEPS, LEARNING_RATE, FEATURES_VERSION, list(FEATURES),
                sorted(LEXICONS.items()), list(policy_intents), embedder_version]
    return content_key(training_data, json.dumps(settings, ensure_ascii=False, default=str))


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
    try:
        save_arrays(path, {name: getattr(model, name) for name in IntentModel.__slots__}, stale="intent-model-*.npz")
    except OSError as exc:
        log.warning("cannot cache the router model in %s (%s)", path.parent, exc)
