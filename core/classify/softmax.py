"""The learned classifier routing and safety share, in numpy: L2-regularised softmax regression over feature rows
(a sentence embedding joined with whatever a domain adds), blended with a vote of the nearest training rows.

Training is deterministic (no random state). It never reads text or files: each domain builds its own feature rows,
chooses its settings (by cross-validation on its train split) and keeps its own trained arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

MOMENTUM = 0.9  # Nesterov momentum of the column-space solver


@dataclass(frozen=True, slots=True)
class Fit:
    """How to fit one softmax regression."""

    l2: float
    steps: int
    learning_rate: float
    # Solve in the span of the training rows (w = x.T @ a) instead of over the columns: the cheap choice when there
    # are many more columns than rows (safety's ~33k hashed n-grams for ~2k prompts), not for routing's ~400 columns.
    rows: bool = False


@dataclass(frozen=True, slots=True)
class Vote:
    """How the nearest training rows vote next to the regression."""

    neighbours: int  # how many of the most similar training rows vote
    share: float  # the vote's share of the blended probabilities
    # Votes weigh exp(sharpness * (cosine - the best cosine)), so close rows count much more than far ones; None: each
    # vote weighs its cosine (at least 1e-6).
    sharpness: float | None = None


@dataclass(frozen=True, slots=True)
class SplitRows:
    """Feature rows as a dense part and a sparse part side by side, read as the matrix [dense | tail]. Safety's rows
    are 388 dense columns and 32,768 hashed n-gram buckets of which a prompt fills a few hundred: stored dense that
    was a 580 MB float32 matrix for 4,362 prompts, and its Gram matrix took 8 s where the two parts' take 2."""

    dense: np.ndarray  # (n, d) float32
    tail: sparse.csr_matrix  # (n, m) float32

    def __post_init__(self) -> None:
        if self.dense.shape[0] != self.tail.shape[0]:
            raise ValueError(f"{self.dense.shape[0]} dense rows but {self.tail.shape[0]} sparse rows")

    @property
    def shape(self) -> tuple[int, int]:
        return self.dense.shape[0], self.dense.shape[1] + self.tail.shape[1]

    def __len__(self) -> int:
        return self.dense.shape[0]

    def __getitem__(self, rows: np.ndarray) -> SplitRows:
        """The rows picked by an index array or a boolean mask, in that order."""
        picked = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows)
        return SplitRows(self.dense[picked], self.tail[picked])

    def __matmul__(self, w: np.ndarray) -> np.ndarray:
        """[dense | tail] @ w for weights over all columns, (columns,) or (columns, k)."""
        d = self.dense.shape[1]
        return self.dense @ w[:d] + self.tail @ w[d:]

    def gram(self) -> np.ndarray:
        """x @ x.T, float32."""
        return self.dense @ self.dense.T + (self.tail @ self.tail.T).toarray()

    def transposed_times(self, a: np.ndarray) -> np.ndarray:
        """x.T @ a for a (n, k): one row per column of [dense | tail]."""
        return np.vstack([self.dense.T @ a, np.asarray(self.tail.T @ a)])


Rows = np.ndarray | SplitRows


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def fit_softmax(x: Rows, labels: np.ndarray, classes: int, fit: Fit) -> tuple[np.ndarray, np.ndarray]:
    """Weights (columns, classes) and bias (classes,) of multinomial logistic regression with an L2 penalty, fitted
    by full-batch gradient descent on rows `x` labelled 0..classes-1. Convex, so the result does not depend on a seed;
    float32 out. SplitRows need `fit.rows`: the column solver reads plain arrays (routing's few hundred columns)."""
    if fit.rows:
        return _fit_in_rows(x, labels, classes, fit)
    if isinstance(x, SplitRows):
        raise ValueError("SplitRows are fitted in the span of the rows: use Fit(rows=True)")
    return _fit_in_columns(x, labels, classes, fit)


def _fit_in_columns(x: np.ndarray, labels: np.ndarray, classes: int, fit: Fit) -> tuple[np.ndarray, np.ndarray]:
    """Primal steps with Nesterov momentum; the bias is not penalised."""
    target = np.eye(classes)[labels]
    w = np.zeros((x.shape[1], classes))
    b = np.zeros(classes)
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    xt = np.ascontiguousarray(x.T)
    for _ in range(fit.steps):
        ahead_w, ahead_b = w + MOMENTUM * vw, b + MOMENTUM * vb
        error = (softmax(by_column(x, ahead_w) + ahead_b) - target) / len(x)
        vw = MOMENTUM * vw - fit.learning_rate * (by_column(xt, error) + fit.l2 * ahead_w)
        vb = MOMENTUM * vb - fit.learning_rate * error.sum(axis=0)
        w, b = w + vw, b + vb
    return w.astype(np.float32), b.astype(np.float32)


def _fit_in_rows(x: Rows, labels: np.ndarray, classes: int, fit: Fit) -> tuple[np.ndarray, np.ndarray]:
    """The optimum's weights are a mix of the rows (w = x.T @ a), so gradient steps run on the n x n Gram matrix:
    milliseconds per step instead of a pass over every column. The step is the functional gradient (no extra K
    factor), well conditioned while every row has norm at most about 2. The bias is a constant column, so it is
    penalised like the rest."""
    # Each step reads the n x n Gram matrix once, in float32 (safety's ~3,000 rows: 36 MB), and with one column fewer
    # than there are classes: softmax ignores a constant added to every class's logit, so the logits of `a` minus its
    # first column give the same probabilities. The harm head is then one single-threaded matrix-vector product a step
    # (threaded BLAS waited on busy cores). It used to be one float64 product per class: training all safety's
    # prompts took 418 s on a loaded 2-core machine; the weights move only by float32 rounding (`a` stays float64).
    gram = np.asarray(x.gram() if isinstance(x, SplitRows) else x @ x.T, np.float32) + np.float32(1.0)
    target = np.eye(classes)[labels]
    a = np.zeros((len(x), classes))
    logits = np.zeros((len(x), classes))
    for _ in range(fit.steps):
        rest = (a[:, 1:] - a[:, :1]).astype(np.float32)
        logits[:, 1:] = np.einsum("ij,j->i", gram, rest[:, 0])[:, None] if classes == 2 else gram @ rest
        a -= fit.learning_rate * ((softmax(logits) - target) / len(x) + fit.l2 * a)
    a32 = a.astype(np.float32)
    return (x.transposed_times(a32) if isinstance(x, SplitRows) else x.T @ a32), a32.sum(axis=0)


def by_column(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b as one matrix-vector product per column of b: for these thin shapes BLAS's threaded matrix product
    waited on busy cores (2.5 ms a step for routing, 10-15 ms for safety on a loaded 2-core machine), the plain
    products took 0.7 ms and under 0.5 ms."""
    return np.column_stack([a @ b[:, k] for k in range(b.shape[1])])


def similarity(rows: np.ndarray, memory: np.ndarray) -> np.ndarray:
    """Cosine similarity of each row with each memory row (both unit length), float32."""
    rows = np.asarray(rows, np.float32)
    if rows.shape[0] == 1:
        # One prompt: a 1 x n product through threaded BLAS waited 8-12 ms for busy cores here (2 cores, load 4);
        # einsum runs it on this thread in ~0.2 ms. Batches (benchmarks, cross-validation) keep BLAS.
        return np.einsum("j,ij->i", rows[0], memory)[None, :]
    return rows @ memory.T


def vote(rows: np.ndarray, memory: np.ndarray, memory_labels: np.ndarray, classes: int,
         how: Vote) -> tuple[np.ndarray, np.ndarray]:
    """Each row's share of votes per class (n, classes) among its nearest memory rows, and its best cosine (n,):
    how like anything trained on it is."""
    sims = similarity(rows, memory)
    k = min(how.neighbours, sims.shape[1])
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    close = np.take_along_axis(sims, top, 1)
    best = close.max(axis=1)
    if how.sharpness is None:
        weights = close.clip(1e-6).astype(np.float64)
    else:
        weights = np.exp(how.sharpness * (close - best[:, None])).astype(np.float64)
    chosen = memory_labels[top].astype(np.int64)[..., None] == np.arange(classes)  # (n, k, classes)
    votes = (chosen * weights[..., None]).sum(axis=1)
    return votes / votes.sum(axis=1, keepdims=True), best


def blend(regression: np.ndarray, votes: np.ndarray, how: Vote) -> np.ndarray:
    """The regression's probabilities mixed with the vote's shares."""
    return (1 - how.share) * regression + how.share * votes
