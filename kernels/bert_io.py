"""The BERT sentence encoder graph's input and output names: what a runner feeds and reads, without the graph
builder (which imports onnx, and through it ml_dtypes, whose import holds the GIL ~1.4 s)."""

from __future__ import annotations

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT = "sentence_embedding"
