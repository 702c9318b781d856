"""Builds the onnx_int4 model for a GGUF once and keeps it under `<data>/onnx/`, named by the GGUF's SHA-256.

A build writes into a temporary folder and renames it into place at the end, so a crash or a second process never
leaves (or reads) a half-written model. Never loads a session; the backend does that.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from edgemind.kernels.decoder_config import UnsupportedModel, config_from_gguf
from edgemind.kernels.decoder_graph import BuildOptions, build_decoder, save_model
from edgemind.kernels.decoder_weights import DecoderWeights, GGUFError, QuantPolicy

from ..errors import ModelError

log = logging.getLogger(__name__)
# Bump when the graph or the packing changes: old cached models are then rebuilt, never misread.
BUILD_VERSION = 4
MODEL_FILE = "model.onnx"
# Weight presets (setting `onnx_weights`). int4: 4 bits wherever the GGUF has 4-5 bits (fastest; Q5_0 models lose
# ~1.4% perplexity). accurate: Q5_0 and Q4_K kept exactly / at 8 bits too (within ~0.8% of llama.cpp's perplexity).
PRESETS = {"int4": QuantPolicy(("Q8_0", "Q6_K")), "accurate": QuantPolicy(("Q8_0", "Q6_K", "Q5_0", "Q4_K"))}


def cache_dir(data_dir: Path) -> Path:
    return data_dir / "onnx"


def model_folder(data_dir: Path, sha256: str, *, max_positions: int, all_logits: bool = False,
                 weights: str = "accurate") -> Path:
    variant = f"{weights}-v{BUILD_VERSION}-ctx{max_positions}" + ("-all" if all_logits else "")
    return cache_dir(data_dir) / f"{sha256}-{variant}"


def ensure_model(gguf: Path, sha256: str, data_dir: Path, *, max_positions: int, all_logits: bool = False,
                 weights: str = "accurate", model_id: str = "") -> Path:
    """Path of the built ONNX model for this GGUF, building it first when the cache lacks it."""
    if weights not in PRESETS:
        raise ModelError(f"onnx_weights must be one of {', '.join(PRESETS)} (got {weights!r})")
    folder = model_folder(data_dir, sha256, max_positions=max_positions, all_logits=all_logits, weights=weights)
    target = folder / MODEL_FILE
    if target.exists():
        return target
    cache_dir(data_dir).mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f".build-{sha256[:12]}-", dir=cache_dir(data_dir)))
    try:
        try:
            source = DecoderWeights(gguf, PRESETS[weights])
            cfg = config_from_gguf(source.metadata, source.names, source.vocab, max_positions=max_positions)
            model = build_decoder(cfg, source, BuildOptions(all_logits=all_logits))
        except (GGUFError, UnsupportedModel) as exc:
            raise ModelError(f"onnx_int4 cannot build model {model_id or gguf.name!r}: {exc}") from None
        save_model(model, tmp / MODEL_FILE)
        del model
        source.close()
        try:
            os.replace(tmp, folder)
        except OSError:
            if not target.exists():  # another process won the race only if its model is there
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("built onnx_int4 model for %s in %.1f s", gguf.name, time.perf_counter() - started)
    return target
