"""Export the tiny BitNet model as a GGUF llama.cpp runs: architecture `llama`, the decoder's matrices as ternary
TQ2_0 or TQ1_0 (or F16/Q8_0 of the same ternary values, for speed comparisons), the tied embedding F16 and the norms
F32, with its byte-level BPE as llama.cpp's `gpt2` tokenizer.

The matrices are written as trits * scale (the fp16 AbsMean scale the QAT forward used), quantized by the `gguf`
package's own TQ2_0/TQ1_0 quantizers: those set each 256-block's scale to the block's largest magnitude, which for a
block of {-s, 0, +s} is s, so the file dequantizes to exactly the trained ternary weights (tests hold this with ==).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import TuneError
from .bitnet import MATRICES, TinyLlamaConfig, ternarize
from .bpe import Vocabulary
from .stack import unavailable

MATRIX_TYPES = ("TQ2_0", "TQ1_0", "Q8_0", "F16")
NAME = "edgemind-tiny-ternary"


@dataclass(frozen=True, slots=True)
class Export:
    """What was written: the file, its size, and the bytes of the ternary matrices vs everything else."""

    path: Path
    matrix_type: str
    file_bytes: int
    matrix_bytes: int
    matrix_params: int
    other_bytes: int  # embedding, norms, metadata (the tokenizer), alignment
    other_params: int


def ternary_weights(cfg: TinyLlamaConfig, latent: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The trained model's weights as inference sees them: every decoder matrix trits * fp16 scale (float32), the
    embedding and norms as trained."""
    out = dict(latent)
    for i in range(cfg.layers):
        for name in MATRICES:
            key = f"blk.{i}.{name}.weight"
            trits, scale = ternarize(latent[key])
            out[key] = trits.astype(np.float32) * np.float32(scale)
    return out


def write_gguf(path: str | Path, cfg: TinyLlamaConfig, latent: dict[str, np.ndarray], vocab: Vocabulary, *,
               matrix_type: str = "TQ2_0") -> Export:
    """Write the model to `path` with its decoder matrices in `matrix_type` (one of MATRIX_TYPES)."""
    try:
        import gguf
        from gguf import quants
    except ImportError as exc:
        raise unavailable("gguf") from exc
    if matrix_type not in MATRIX_TYPES:
        raise TuneError(f"matrix type must be one of {', '.join(MATRIX_TYPES)}, not {matrix_type!r}")
    if len(vocab.tokens) != cfg.vocab:
        raise TuneError(f"the tokenizer has {len(vocab.tokens)} tokens, the model {cfg.vocab}")
    path = Path(path)
    qtype = getattr(gguf.GGMLQuantizationType, matrix_type)
    weights = ternary_weights(cfg, latent)
    w = gguf.GGUFWriter(str(path), arch="llama")
    w.add_name(NAME)
    w.add_context_length(cfg.context)
    w.add_embedding_length(cfg.hidden)
    w.add_block_count(cfg.layers)
    w.add_feed_forward_length(cfg.ffn)
    w.add_head_count(cfg.heads)
    w.add_head_count_kv(cfg.kv_heads)
    w.add_rope_dimension_count(cfg.head_dim)
    w.add_rope_freq_base(cfg.rope_theta)
    w.add_layer_norm_rms_eps(cfg.rms_eps)
    w.add_vocab_size(cfg.vocab)
    w.add_file_type({"TQ2_0": gguf.LlamaFileType.MOSTLY_TQ2_0, "TQ1_0": gguf.LlamaFileType.MOSTLY_TQ1_0,
                     "Q8_0": gguf.LlamaFileType.MOSTLY_Q8_0, "F16": gguf.LlamaFileType.MOSTLY_F16}[matrix_type])
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(list(vocab.tokens))
    w.add_token_types([gguf.TokenType.CONTROL if i == vocab.eot_id else gguf.TokenType.NORMAL
                       for i in range(len(vocab.tokens))])
    w.add_token_merges(list(vocab.merges))
    w.add_bos_token_id(vocab.eot_id)
    w.add_eos_token_id(vocab.eot_id)
    w.add_add_bos_token(False)
    matrix_bytes = matrix_params = other_params = 0
    for name, value in weights.items():
        if name.endswith("norm.weight"):
            data, raw = value.astype(np.float32), None
        elif name == "token_embd.weight":
            data, raw = value.astype(np.float16), None
        else:
            data = quants.quantize(value.astype(np.float32), qtype) if matrix_type != "F16" else value.astype(
                np.float16)
            raw = qtype if matrix_type != "F16" else None
            matrix_bytes += data.nbytes
            matrix_params += value.size
            w.add_tensor(name, data, raw_dtype=raw)
            continue
        other_params += value.size
        w.add_tensor(name, data, raw_dtype=raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    size = path.stat().st_size
    return Export(path=path, matrix_type=matrix_type, file_bytes=size, matrix_bytes=matrix_bytes,
                  matrix_params=matrix_params, other_bytes=size - matrix_bytes, other_params=other_params)
