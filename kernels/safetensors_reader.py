"""Reads the safetensors format (u64 header length, JSON header, raw little-endian buffers) into numpy arrays.

The bytes are untrusted: every offset, shape and dtype is checked against the buffer before an array is made, so a
damaged file is one clean SafetensorsFormatError, never an over-read or a huge allocation. Arrays are read-only views.
"""

from __future__ import annotations

import json
import math
import struct

import numpy as np

# A real header is a few kB per hundred tensors; anything larger is junk or hostile.
MAX_HEADER_BYTES = 16 * 1024 * 1024
_DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}


class SafetensorsFormatError(ValueError):
    """The bytes are not a readable safetensors file; the message says why in one line."""


def _tensor(name: str, entry: object, data: memoryview) -> np.ndarray:
    if not isinstance(entry, dict):
        raise SafetensorsFormatError(f"tensor {name!r}: header entry is not an object")
    code = entry.get("dtype")
    dtype = _DTYPES.get(code) if isinstance(code, str) else None
    if dtype is None:
        raise SafetensorsFormatError(f"tensor {name!r}: unsupported dtype {entry.get('dtype')!r}")
    shape, offsets = entry.get("shape"), entry.get("data_offsets")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                               for d in shape):
        raise SafetensorsFormatError(f"tensor {name!r}: shape {shape!r} is not a list of sizes")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
        raise SafetensorsFormatError(f"tensor {name!r}: data_offsets {offsets!r} is not [begin, end]")
    begin, end = offsets
    if not 0 <= begin <= end <= len(data):
        raise SafetensorsFormatError(
            f"tensor {name!r}: bytes {begin}..{end} lie outside the {len(data):,}-byte data section (truncated?)"
        )
    if (end - begin) != math.prod(shape) * dtype.itemsize:
        raise SafetensorsFormatError(f"tensor {name!r}: {end - begin} bytes do not hold a {dtype} array {shape}")
    return np.frombuffer(data[begin:end], dtype=dtype).reshape(shape)


def read_safetensors(buffer: bytes | bytearray | memoryview) -> dict[str, np.ndarray]:
    """Parse a whole safetensors file held in memory; the arrays share its memory (no copy)."""
    view = memoryview(buffer).cast("B")
    if len(view) < 8:
        raise SafetensorsFormatError(f"{len(view)} bytes is too short for a safetensors file")
    (header_len,) = struct.unpack("<Q", view[:8])
    if header_len > MAX_HEADER_BYTES or 8 + header_len > len(view):
        raise SafetensorsFormatError(
            f"declared header of {header_len:,} bytes does not fit a {len(view):,}-byte file (not safetensors?)"
        )
    try:
        header = json.loads(bytes(view[8:8 + header_len]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise SafetensorsFormatError(f"header is not JSON ({exc.__class__.__name__})") from None
    if not isinstance(header, dict):
        raise SafetensorsFormatError("header is not a JSON object")
    data = view[8 + header_len:]
    return {name: _tensor(name, entry, data) for name, entry in header.items() if name != "__metadata__"}
