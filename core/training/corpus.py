"""The tiny ternary model's English text: Python's own documentation topics (pydoc_data/topics.py, shipped with every
CPython), split by topic into a training part and a held-out part with a seeded shuffle, so the held-out text is
prose the model never saw, and the split is the same on every machine with the same Python."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import TuneDataError

HELD_OUT_FRACTION = 0.1  # of the characters: ~46k characters of held-out prose, ~10k tokens


@dataclass(frozen=True, slots=True)
class CorpusSplit:
    """Training and held-out text, and which topics went where (so a report can name the held-out part)."""

    train: str
    held_out: str
    held_out_topics: tuple[str, ...]
    seed: int


def pydoc_topics() -> dict[str, str]:
    """Topic name -> text of the stdlib's pydoc topics (~465k characters of English about Python)."""
    try:
        from pydoc_data import topics  # stdlib data; some minimal Python builds leave it out
    except ImportError as exc:
        raise TuneDataError("this Python lacks pydoc_data (the stdlib's documentation topics), the corpus of the "
                            "ternary model") from exc
    return {str(k): str(v) for k, v in topics.topics.items()}


def split_topics(topics: dict[str, str], *, seed: int = 0,
                 held_out_fraction: float = HELD_OUT_FRACTION) -> CorpusSplit:
    """Shuffle the topics with `seed` and hold out whole topics until `held_out_fraction` of the characters."""
    if not 0 < held_out_fraction < 1:
        raise TuneDataError(f"held_out_fraction must be between 0 and 1, got {held_out_fraction}")
    names = sorted(topics)
    if len(names) < 2:
        raise TuneDataError("the corpus needs at least two topics to hold one out")
    order = np.random.default_rng(seed).permutation(len(names))
    total = sum(len(topics[n]) for n in names)
    held: list[str] = []
    size = 0
    for i in order:
        if size >= held_out_fraction * total or len(held) == len(names) - 1:
            break
        held.append(names[i])
        size += len(topics[names[i]])
    kept = [n for n in names if n not in held]
    return CorpusSplit(train="\n\n".join(topics[n] for n in kept),
                       held_out="\n\n".join(topics[n] for n in sorted(held)),
                       held_out_topics=tuple(sorted(held)), seed=seed)


def corpus_split(seed: int = 0) -> CorpusSplit:
    """The ternary model's corpus, split: what training and the perplexity benchmark both read."""
    return split_topics(pydoc_topics(), seed=seed)
