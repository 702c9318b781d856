"""The decoder graph's KV-cache input and output names: what a runner binds, without the graph builder (which
imports onnx, and through it ml_dtypes, whose import holds the GIL ~1.4 s)."""

from __future__ import annotations


def kv_names(layer: int) -> tuple[str, str, str, str]:
    """(past key, past value, present key, present value) input/output names for one layer."""
    return (f"past_key_values.{layer}.key", f"past_key_values.{layer}.value",
            f"present.{layer}.key", f"present.{layer}.value")
