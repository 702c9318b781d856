"""Memory-mapped access to the tensors of a GGUF file: their layout, zero-copy raw bytes, float32 dequantization.

Built on `gguf_header` (same reader, same errors). The file is untrusted: every tensor's type, shape and extent is
checked at open, so a later `raw()` can never read past the file or into another tensor's bytes.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from . import dequant
from .gguf_header import GGML_BLOCK_SIZES, GGUFFormatError, GGUFHeader, read_gguf_header

MAX_ELEMENTS = 1 << 40  # no real tensor comes near this; stops overflowing products from hostile dims


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """Where one tensor lives. `shape` is numpy order (ggml's ne reversed: rows = ne[1], cols = ne[0]); `offset` is
    absolute in the file."""

    name: str
    ggml_type: int
    type_name: str
    shape: tuple[int, ...]
    offset: int
    nbytes: int


class GGUFTensors:
    """An open GGUF file: `.metadata`, `.names`, `.info(name)`, `.raw(name)`, `.dequantize(name)`; close when done."""

    def __init__(self, path: Path, header: GGUFHeader, infos: dict[str, TensorInfo], mm: mmap.mmap) -> None:
        self.path = path
        self._header = header
        self._infos = infos
        self._mm: mmap.mmap | None = mm
        self._buf: np.ndarray | None = np.frombuffer(mm, dtype=np.uint8)

    @classmethod
    def open(cls, path: str | Path) -> GGUFTensors:
        """Read the header, check every tensor's extent, and map the file read-only."""
        path = Path(path)
        header = read_gguf_header(path)
        infos = _check_tensors(path.name, header)
        with path.open("rb") as f:
            try:
                mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError) as exc:
                raise GGUFFormatError(f"cannot map {path.name}: {exc}") from None
        if len(mm) != header.file_size:
            mm.close()
            raise GGUFFormatError(f"{path.name} changed size while it was being opened")
        return cls(path, header, infos, mm)

    @property
    def metadata(self) -> dict[str, Any]:
        return self._header.metadata

    @property
    def header(self) -> GGUFHeader:
        return self._header

    @property
    def names(self) -> list[str]:
        return list(self._infos)

    def __contains__(self, name: object) -> bool:
        return name in self._infos

    def __len__(self) -> int:
        return len(self._infos)

    def info(self, name: str) -> TensorInfo:
        try:
            return self._infos[name]
        except KeyError:
            raise GGUFFormatError(f"{self.path.name} has no tensor {name!r}") from None

    def raw(self, name: str) -> np.ndarray:
        """The tensor's bytes as a read-only uint8 view of the mapping (no copy; invalid after close)."""
        info = self.info(name)
        if self._buf is None:
            raise GGUFFormatError(f"{self.path.name} is closed")
        return self._buf[info.offset:info.offset + info.nbytes]

    def dequantize(self, name: str) -> np.ndarray:
        """The tensor as a new float32 array of `info(name).shape`."""
        info = self.info(name)
        return dequant.dequantize(self.raw(name), info.ggml_type, info.shape)

    def close(self) -> None:
        # Views handed out by raw() keep the buffer exported; mmap.close() refuses then, so drop ours and let the
        # mapping go when the last view does.
        self._buf = None
        mm, self._mm = self._mm, None
        if mm is not None:
            try:
                mm.close()
            except BufferError:
                pass

    def __enter__(self) -> GGUFTensors:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _check_tensors(file_name: str, header: GGUFHeader) -> dict[str, TensorInfo]:
    """TensorInfo for each declared tensor, in file order, after checking type, shape, alignment and extent."""
    infos: dict[str, TensorInfo] = {}
    extents: list[tuple[int, int, str]] = []
    for t in header.tensors:
        where = f"{file_name}: tensor {t.name!r}"
        if t.name in infos:
            raise GGUFFormatError(f"{where} is declared twice")
        if t.ggml_type not in GGML_BLOCK_SIZES:
            raise GGUFFormatError(f"{where} has unknown ggml type {t.ggml_type}")
        if not t.dims or any(d <= 0 for d in t.dims):
            raise GGUFFormatError(f"{where} has an empty shape {t.dims}")
        n = 1
        for d in t.dims:
            n *= d
        if n > MAX_ELEMENTS:
            raise GGUFFormatError(f"{where} declares {n:,} elements")
        shape = tuple(reversed(t.dims))
        block, _ = GGML_BLOCK_SIZES[t.ggml_type]
        if t.dims[0] % block:
            raise GGUFFormatError(
                f"{where} has rows of {t.dims[0]} values, not a whole number of {dequant.type_name(t.ggml_type)} "
                f"blocks of {block}, so its shape disagrees with its size"
            )
        nbytes = dequant.tensor_nbytes(t.ggml_type, shape)
        if t.offset % header.alignment:
            raise GGUFFormatError(f"{where} starts at offset {t.offset}, not aligned to {header.alignment}")
        start = header.data_offset + t.offset
        if start + nbytes > header.file_size:
            raise GGUFFormatError(
                f"{where} ({nbytes:,} bytes at {start:,}) runs past the end of the file ({header.file_size:,} bytes)"
            )
        infos[t.name] = TensorInfo(name=t.name, ggml_type=t.ggml_type, type_name=dequant.type_name(t.ggml_type),
                                   shape=shape, offset=start, nbytes=nbytes)
        extents.append((start, start + nbytes, t.name))
    extents.sort()
    for (_, end, a), (start, _, b) in zip(extents, extents[1:]):
        if start < end:
            raise GGUFFormatError(f"{file_name}: tensors {a!r} and {b!r} overlap")
    return infos
