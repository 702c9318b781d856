"""A float32 copy of a quantized GGUF model: the same weights transformers computes with, for llama.cpp to run.

llama.cpp multiplies quantized weights by 8-bit-rounded activations, transformers by the dequantized float32 weights,
so the two runtimes disagree a little even without an adapter (logit correlation ~0.999 on the Q4_1 135M model).
Comparing an adapter across them on this copy leaves only the adapter's own export error. Used by checks and
benchmarks, never by serving.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ModelError
from .gguf_lora import gguf_file, import_gguf

# Keys GGUFWriter writes itself (or that describe the file, not the model): copying them would duplicate them.
_OWN_KEYS = {"general.architecture", "general.file_type"}


def float_copy(src: Path, out: Path) -> Path:
    """Write `src` with every tensor dequantized to float32 (metadata, vocabulary and tensor order kept) at `out`.

    An existing `out` is reused: the copy is large (4 bytes a weight) and depends only on `src`'s contents, so callers
    name it after the source's hash or keep it in a temporary folder.
    """
    import numpy as np

    gguf = import_gguf()

    if out.exists():
        return out
    try:
        reader = gguf.GGUFReader(src)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {src.name} as GGUF: {exc}") from exc
    arch_field = reader.fields.get("general.architecture")
    if arch_field is None:
        raise ModelError(f"{src.name} names no architecture in general.architecture")
    with gguf_file(out, str(arch_field.contents())) as writer:
        for name, field in reader.fields.items():
            if name in _OWN_KEYS or name.startswith("GGUF."):
                continue
            _copy_field(writer, gguf, name, field)
        writer.add_file_type(gguf.LlamaFileType.ALL_F32)
        for tensor in reader.tensors:
            data = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
            shape = tuple(int(d) for d in reversed(tensor.shape))
            writer.add_tensor(tensor.name, np.ascontiguousarray(data, dtype=np.float32).reshape(shape))
    return out


def _copy_field(writer: Any, gguf: Any, name: str, field: Any) -> None:
    kind = field.types[0]
    if kind == gguf.GGUFValueType.ARRAY:
        writer.add_key_value(name, field.contents(), kind, sub_type=field.types[-1])
    else:
        writer.add_key_value(name, field.contents(), kind)
