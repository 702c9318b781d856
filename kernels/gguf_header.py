"""Reads the header and metadata of a GGUF file without loading its tensors.

Used to reject non-GGUF or truncated files with a clear error before llama.cpp sees them, and to read the chat
template and context length. Metadata is untrusted: sizes are bounded so a hostile file cannot make us allocate.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
# Bounds on untrusted metadata: real models have a few dozen keys and tokenizer arrays of ~150k entries.
MAX_KV_COUNT = 10_000
MAX_STRING_BYTES = 16 * 1024 * 1024
MAX_ARRAY_LEN = 4_000_000
MAX_TENSOR_COUNT = 1_000_000

_SCALARS = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d",
}
_STRING, _ARRAY = 8, 9

# ggml tensor types: (elements per block, bytes per block). Checked against the `gguf` package in the tests.
GGML_BLOCK_SIZES: dict[int, tuple[int, int]] = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 40),
    10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
    16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82),
    23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2),
    34: (256, 54), 35: (256, 66), 39: (32, 17), 40: (64, 36), 41: (128, 18),
}
# Their names, as ggml and the `gguf` package spell them (checked in the tests), for messages and tensor listings.
GGML_TYPE_NAMES: dict[int, str] = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K",
    12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S",
    20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64",
    29: "IQ1_M", 30: "BF16", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4", 40: "NVFP4", 41: "Q1_0",
}


class GGUFFormatError(ValueError):
    """The file is not a readable GGUF file; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class TensorEntry:
    """One tensor as the header declares it: ggml order dims (ne[0] = the contiguous one), offset from data start."""

    name: str
    dims: tuple[int, ...]
    ggml_type: int
    offset: int


@dataclass(frozen=True, slots=True)
class GGUFHeader:
    version: int
    tensor_count: int
    metadata: dict[str, Any] = field(repr=False)
    data_offset: int = 0
    data_end: int = 0
    file_size: int = 0
    alignment: int = 32
    tensors: tuple[TensorEntry, ...] = field(default=(), repr=False)

    @property
    def architecture(self) -> str | None:
        value = self.metadata.get("general.architecture")
        return value if isinstance(value, str) else None

    @property
    def context_length(self) -> int | None:
        arch = self.architecture
        value = self.metadata.get(f"{arch}.context_length") if arch else None
        return int(value) if isinstance(value, int) else None

    @property
    def chat_template(self) -> str | None:
        value = self.metadata.get("tokenizer.chat_template")
        return value if isinstance(value, str) else None

    @property
    def name(self) -> str | None:
        value = self.metadata.get("general.name")
        return value if isinstance(value, str) else None

    @property
    def parameter_count(self) -> int:
        """The weights the file holds, counted from its tensor table (a name's "1.5B" can be rounded or absent)."""
        return sum(math.prod(t.dims) for t in self.tensors)


class _Reader:
    def __init__(self, f: BinaryIO, size: int) -> None:
        self._f = f
        self._size = size

    def read(self, n: int) -> bytes:
        data = self._f.read(n)
        if len(data) != n:
            raise GGUFFormatError(f"file is truncated (ended at byte {self._f.tell()} of a declared header)")
        return data

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        n = self.unpack("<Q")
        if n > MAX_STRING_BYTES or self._f.tell() + n > self._size:
            raise GGUFFormatError(f"metadata string of {n} bytes does not fit the file")
        return self.read(n).decode("utf-8", errors="replace")

    def skip_strings(self, n: int) -> None:
        """Walk past `n` strings without decoding them: the tokenizer's vocabulary and merges (~300k strings in a
        Qwen file) took seconds a parse decoded one by one, and every model load parses the header twice."""
        f, size, unpack = self._f, self._size, struct.Struct("<Q").unpack
        for _ in range(n):
            head = f.read(8)
            if len(head) != 8:
                raise GGUFFormatError(f"file is truncated (ended at byte {f.tell()} of a declared header)")
            length = unpack(head)[0]
            if length > MAX_STRING_BYTES or f.seek(length, 1) > size:
                raise GGUFFormatError(f"metadata string of {length} bytes does not fit the file")

    def value(self, vtype: int, *, keep: bool) -> Any:
        if vtype in _SCALARS:
            return self.unpack(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            item_type = self.unpack("<I")
            n = self.unpack("<Q")
            if n > MAX_ARRAY_LEN:
                raise GGUFFormatError(f"metadata array of {n} items is larger than any real model's")
            if item_type in _SCALARS and not keep:
                # Skip big numeric arrays (token scores, types) without decoding them.
                width = struct.calcsize(_SCALARS[item_type])
                if self._f.tell() + n * width > self._size:
                    raise GGUFFormatError("file is truncated inside a metadata array")
                self._f.seek(n * width, 1)
                return None
            if item_type == _STRING and not keep:
                self.skip_strings(n)
                return None
            items = [self.value(item_type, keep=keep) for _ in range(n)]
            return items if keep else None
        raise GGUFFormatError(f"unknown metadata value type {vtype}")


def read_gguf_header(path: str | Path, *, keep_arrays: bool = False) -> GGUFHeader:
    """Parse magic, version, counts and metadata; raise GGUFFormatError naming what is wrong."""
    path = Path(path)
    try:
        size = path.stat().st_size
        f = path.open("rb")
    except FileNotFoundError:
        raise GGUFFormatError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise GGUFFormatError(f"{path} is a folder, not a GGUF file") from None
    except OSError as exc:
        raise GGUFFormatError(f"cannot read {path}: {exc.strerror or exc}") from None
    with f:
        r = _Reader(f, size)
        magic = f.read(4)
        if magic != GGUF_MAGIC:
            raise GGUFFormatError(f"{path.name} is not a GGUF file (starts with {magic[:4]!r}, expected b'GGUF')")
        version = r.unpack("<I")
        if version not in SUPPORTED_VERSIONS:
            raise GGUFFormatError(f"{path.name} has GGUF version {version}; supported: 2, 3")
        tensor_count = r.unpack("<Q")
        kv_count = r.unpack("<Q")
        if tensor_count > MAX_TENSOR_COUNT or kv_count > MAX_KV_COUNT:
            raise GGUFFormatError(f"{path.name} declares {tensor_count} tensors and {kv_count} keys: not a real model")
        metadata: dict[str, Any] = {}
        for _ in range(kv_count):
            key = r.string()
            vtype = r.unpack("<I")
            value = r.value(vtype, keep=keep_arrays)
            if value is not None:
                metadata[key] = value
        if tensor_count == 0:
            raise GGUFFormatError(f"{path.name} has no tensors")
        data_end_rel, last_name = 0, ""
        tensors: list[TensorEntry] = []
        for _ in range(tensor_count):
            name = r.string()
            n_dims = r.unpack("<I")
            if n_dims > 8:
                raise GGUFFormatError(f"tensor {name!r} has {n_dims} dimensions")
            dims = tuple(r.unpack("<Q") for _ in range(n_dims))
            n_elements = 1
            for d in dims:
                n_elements *= d
            ggml_type = r.unpack("<I")
            offset = r.unpack("<Q")
            tensors.append(TensorEntry(name=name, dims=dims, ggml_type=ggml_type, offset=offset))
            if ggml_type in GGML_BLOCK_SIZES:
                block, nbytes = GGML_BLOCK_SIZES[ggml_type]
                end = offset + (n_elements // block) * nbytes
                if end > data_end_rel:
                    data_end_rel, last_name = end, name
        alignment = metadata.get("general.alignment", 32)
        if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
            raise GGUFFormatError(f"{path.name} declares an invalid alignment {alignment!r}")
        data_offset = -(-f.tell() // alignment) * alignment
        data_end = data_offset + data_end_rel
        if data_end > size:
            raise GGUFFormatError(
                f"{path.name} is truncated: tensor {last_name!r} ends at byte {data_end:,} but the file has {size:,}"
            )
    return GGUFHeader(version=version, tensor_count=tensor_count, metadata=metadata,
                      data_offset=data_offset, data_end=data_end, file_size=size, alignment=alignment,
                      tensors=tuple(tensors))
