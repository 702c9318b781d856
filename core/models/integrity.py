"""Checks that a model file is what it claims to be: present, whole, GGUF, and matching its SHA-256 pin."""

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
