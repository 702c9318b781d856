"""A small byte-level BPE vocabulary for the tiny ternary model, learned from its training text.

Why not SmolLM2's tokenizer: its 49,152-entry vocabulary makes the embedding and LM head 12.6M parameters at width
256, four times the ternary body, too slow to train on two cores and too big to commit. A 4,096-entry byte-level BPE
keeps them at 1M. It is written into the GGUF as llama.cpp's `gpt2` tokenizer with the `gpt-2` pre-tokenizer, the
same regex and byte mapping the `tokenizers` library trains with, so llama.cpp tokenizes text as training did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .stack import unavailable

EOT = "<|endoftext|>"  # id 0: BOS/EOS of the model


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """What the GGUF stores: tokens by id (byte-level strings), merges in priority order ("a b"), the EOT id."""

    tokens: tuple[str, ...]
    merges: tuple[str, ...]
    eot_id: int


def train_bpe(text: str, vocab_size: int = 4096) -> Any:
    """A `tokenizers.Tokenizer` (byte-level BPE, GPT-2 pre-tokenization) learned from `text`; deterministic."""
    try:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    except ImportError as exc:
        raise unavailable("tokenizers") from exc
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOT], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([text], trainer=trainer)
    return tok


def vocabulary(tok: Any) -> Vocabulary:
    """The tokenizer's vocabulary and merges as llama.cpp's gpt2 tokenizer reads them."""
    model = json.loads(tok.to_str())["model"]
    by_id = sorted(model["vocab"].items(), key=lambda kv: kv[1])
    if [i for _, i in by_id] != list(range(len(by_id))):
        raise ValueError("the BPE vocabulary's ids are not 0..n-1")
    merges = tuple(m if isinstance(m, str) else " ".join(m) for m in model["merges"])
    return Vocabulary(tokens=tuple(t for t, _ in by_id), merges=merges, eot_id=int(model["vocab"][EOT]))
