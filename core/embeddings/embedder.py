"""Local sentence embeddings: texts -> L2-normalised float32 vectors from the bundled all-MiniLM-L6-v2 encoder,
run by onnxruntime with the `tokenizers` fast tokenizer. Offline: it never downloads anything.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Encoding, Tokenizer

from edgemind.kernels.bert_io import INPUTS, OUTPUT

from ..errors import ModelError, ModelIntegrityError, PromptError
from ..hardware import physical_cores
from ..settings import Settings
from .model_files import prepare_encoder

EMBEDDING_DIM = 384
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model: longer texts are truncated, as there
PAD_ID = 0
# The tokenizer reads a whole text before truncating (10 MB took 10 s here). 256 word pieces never need more than
# this many characters unless the text is almost all whitespace or control characters, which BERT drops anyway.
MAX_TEXT_CHARS = MAX_TOKENS * 64
PROVIDERS = ["CPUExecutionProvider"]
# Word pieces per onnxruntime run: a larger batch is split into runs of about this many (rows x padded width).
# Measured here on the int8 encoder (2 Zen 4 cores, sentences per CPU-second): 256-token texts 20.5 at 1 or 4 per run
# (256-1024 pieces) vs 17.6 at 16 (4,096); 13-piece texts 492 at 32 per run, 474 at 64, 413 at 128 (1,664).
# Past a few hundred kB of activations per matmul, the int8 path's extra passes run from L3 instead of L2.
TOKENS_PER_RUN = 1024


def embeddings_cache_dir(settings: Settings) -> Path:
    return settings.artifacts_dir / "embeddings"


def _clean(text: str) -> str:
    text = text[:MAX_TEXT_CHARS]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates (from broken decoders, surrogateescape) make the tokenizer raise a TypeError.
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def length_batches(encodings: Sequence[Encoding], batch_size: int) -> Iterator[list[int]]:
    """Indices of the encodings in batches of similar length (longest first), so padding stays small."""
    if batch_size < 1:
        raise PromptError(f"embed: batch_size must be at least 1, got {batch_size}")
    order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids), reverse=True)
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


def batch_feed(batch: Sequence[Encoding]) -> dict[str, np.ndarray]:
    """The encoder's inputs for a batch: ids right-padded to the longest, its mask, token types."""
    width = max(len(e.ids) for e in batch)
    ids = np.full((len(batch), width), PAD_ID, dtype=np.int64)
    mask = np.zeros((len(batch), width), dtype=np.int64)
    for row, enc in enumerate(batch):
        ids[row, :len(enc.ids)] = enc.ids
        mask[row, :len(enc.ids)] = 1
    # Single texts only, so every token type is 0 (segment A), as in sentence-transformers.
    return dict(zip(INPUTS, (ids, mask, np.zeros_like(ids))))


class Embedder:
    """One resident encoder: `embed(texts)` -> (n, 384) float32 unit vectors. Thread-safe."""

    def __init__(self, cache_dir: Path, *, archive: Path | None = None, threads: int | None = None,
                 variant: str | None = None, tokens_per_run: int | None = TOKENS_PER_RUN) -> None:
        """cache_dir holds the built encoder; archive overrides the weights package's model.zip (tests);
        variant picks another graph (model_files.VARIANTS) and tokens_per_run=None runs each batch whole
        (benchmarks compare them)."""
        self._tokens_per_run = tokens_per_run
        prepared = prepare_encoder(Path(cache_dir), archive, variant)
        self.encoder_path = prepared.onnx_path
        self.rebuilt = prepared.rebuilt
        self._tokenizer = Tokenizer.from_str(prepared.tokenizer_json)
        # The packaged tokenizer pads every text to 128; we pad per batch ourselves and truncate like the model card.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_TOKENS)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or physical_cores()
        # No busy-waiting between runs: spinning ORT threads would steal the cores llama.cpp needs for the prompt
        # that follows the router's embedding (measured: first token 1.4x slower with spinning on).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session = ort.InferenceSession(prepared.onnx_bytes, options, providers=PROVIDERS)
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelIntegrityError(f"embedding encoder {prepared.onnx_path.name} cannot be loaded: {exc}") from None

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        return cls(embeddings_cache_dir(settings), threads=settings.effective_threads)

    @property
    def dimension(self) -> int:
        return EMBEDDING_DIM

    def tokenize(self, texts: Sequence[str]) -> list[Encoding]:
        """Word pieces per text, [CLS] ... [SEP], at most MAX_TOKENS, unpadded."""
        if isinstance(texts, (str, bytes)):
            raise PromptError("embed takes a list of texts, not a single string")
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise PromptError(f"embed: item {i} is a {type(text).__name__}, not text")
        return self._tokenizer.encode_batch([_clean(t) for t in texts])

    def whole_word(self, word: str) -> bool:
        """Whether the encoder's vocabulary holds this word as one piece: a word it splits ("captial" -> "cap",
        "##tial") is rare or misspelt, which the semantic cache's typo rule needs to know."""
        if not isinstance(word, str) or not word.strip() or len(word) > 64:
            return False
        pieces = self._tokenizer.encode(word.strip(), add_special_tokens=False).tokens
        return len(pieces) == 1 and pieces[0] != "[UNK]"

    def vocabulary(self) -> dict[str, int]:
        """The encoder's word pieces and their ids (whole words and "##" continuations)."""
        return dict(self._tokenizer.get_vocab())

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Unit vectors, one row per text, in the order given."""
        encodings = self.tokenize(texts)
        out = np.empty((len(encodings), EMBEDDING_DIM), dtype=np.float32)
        for rows in length_batches(encodings, batch_size):
            width = max(1, len(encodings[rows[0]].ids))  # rows[0] is the longest
            per_run = max(1, self._tokens_per_run // width) if self._tokens_per_run else len(rows)
            for start in range(0, len(rows), per_run):
                part = rows[start:start + per_run]
                out[part] = self._run([encodings[i] for i in part])
        return out

    def _run(self, batch: list[Encoding]) -> np.ndarray:
        feed = batch_feed(batch)
        try:
            (vectors,) = self._session.run([OUTPUT], feed)
        except Exception as exc:  # e.g. out of memory for a huge batch; onnxruntime's errors are untyped
            raise ModelError(f"embedding a batch of {len(batch)} texts failed: {exc}") from None
        return vectors


_shared: dict[Path, Embedder] = {}
_shared_lock = threading.Lock()


def shared_embedder(cache_dir: Path) -> Embedder:
    """One Embedder per cache folder per process: callers that rebuild their wrappers (chromadb does, from a
    collection's stored config) must not load a second copy of the model."""
    key = Path(cache_dir).resolve()
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Embedder(key)
        return _shared[key]
