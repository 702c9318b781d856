"""Checks that a model file is what it claims to be: present, whole, GGUF, matching its SHA-256 pin, and unchanged
since it was verified."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from edgemind.kernels.gguf_header import GGUFFormatError, GGUFHeader, read_gguf_header

from ..errors import ModelIntegrityError

CHUNK = 4 * 1024 * 1024
Progress = Callable[[str, int, int], None]  # (what, bytes done, bytes total)


def sha256_file(path: Path, progress: Progress | None = None, what: str = "hashing") -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(what, done, total)
    return digest.hexdigest()


# A fingerprint checked on every load: the whole header and tensor index, where an edit changes what llama.cpp builds,
# and evenly spaced samples of the tensor data. Milliseconds where a full hash takes a second per 500 MB.
SAMPLE_COUNT = 64
SAMPLE_BYTES = 64 * 1024


def fingerprint(path: Path, header: GGUFHeader) -> str:
    """SHA-256 of the file's size, every byte before the tensor data, and SAMPLE_COUNT samples of the data.

    Catches any edit of the metadata or tensor index and many of the data; the inode change time the registry keeps
    alongside catches the rest on POSIX (an in-place write sets it, and no unprivileged call can put it back)."""
    digest = hashlib.sha256()
    size = path.stat().st_size
    digest.update(f"{size}:{header.data_offset}".encode())
    with path.open("rb") as f:
        remaining = header.data_offset
        while remaining > 0 and (chunk := f.read(min(CHUNK, remaining))):
            digest.update(chunk)
            remaining -= len(chunk)
        span = max(size - header.data_offset - SAMPLE_BYTES, 0)
        for i in range(SAMPLE_COUNT):
            f.seek(header.data_offset + span * i // (SAMPLE_COUNT - 1))
            digest.update(f.read(SAMPLE_BYTES))
    return digest.hexdigest()


def check_gguf(path: Path, model_id: str) -> GGUFHeader:
    """Header check before llama.cpp ever sees the file: rejects junk, wrong magic and truncation."""
    try:
        return read_gguf_header(path)
    except GGUFFormatError as exc:
        raise ModelIntegrityError(f"model {model_id!r}: {exc}") from None


def check_size_and_hash(path: Path, model_id: str, sha256: str, size_bytes: int | None,
                        progress: Progress | None = None) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ModelIntegrityError(f"model {model_id!r}: file {path} is missing") from None
    if size_bytes is not None and size != size_bytes:
        raise ModelIntegrityError(
            f"model {model_id!r}: {path.name} has {size:,} bytes, expected {size_bytes:,} (truncated or replaced)"
        )
    actual = sha256_file(path, progress, f"verifying {model_id}")
    if actual != sha256:
        raise ModelIntegrityError(
            f"model {model_id!r}: SHA-256 of {path.name} is {actual[:16]}…, expected {sha256[:16]}… "
            "(the file is damaged or was replaced)"
        )
