"""`models pull`: a catalogue entry downloaded from the hub (or a mirror), verified, and registered like `models add`.

Only ever run by an explicit user command (like `ollama pull`); nothing at run time downloads a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, ModelError, ModelIntegrityError, ModelNotFound
from .catalog import PULLED_FOLDER, CatalogEntry
from .download import Pin, download
from .integrity import Progress, sha256_file
from .manifest import ModelSpec
from .registry import ModelRegistry


@dataclass(frozen=True, slots=True)
class PullOutcome:
    """What a pull did: `state` is "pulled", "registered" (the verified file was already there) or "installed"
    (nothing to do)."""

    spec: ModelSpec
    state: str
    resumed_from: int = 0
    downloaded: int = 0


def pulled_path(models_dir: Path, entry: CatalogEntry) -> Path:
    """Where a pulled file lives: its hub file name under `<models>/hub/`, apart from the bundled files."""
    return models_dir / PULLED_FOLDER / entry.file


def pull(registry: ModelRegistry, entry: CatalogEntry, hub_url: str, models_dir: Path,
         progress: Progress | None = None, timeout: float = 60.0) -> PullOutcome:
    """Download, verify and register `entry`; a second pull of an installed model does nothing."""
    if not hub_url.startswith(("https://", "http://")):
        raise ConfigError(f"model_hub_url {hub_url!r} must be an http(s) URL")
    try:
        known = registry.get(entry.id)
    except ModelNotFound:
        known = None
    if known is not None:
        if known.sha256 != entry.sha256:
            raise ModelError(f"a model with id {entry.id!r} is already registered and is not this catalogue file; "
                             f"remove it first (`edgemind models remove {entry.id}`)")
        if known.path is not None and known.path.exists():
            return PullOutcome(known, "installed")
        registry.remove(entry.id)  # registered, but its file is gone: pull it again
    dest = pulled_path(models_dir, entry)
    if dest.exists():
        if dest.stat().st_size != entry.size_bytes or sha256_file(dest, progress, f"verifying {entry.id}") \
                != entry.sha256:
            raise ModelIntegrityError(f"{dest} exists and is not the pinned {entry.id}; delete it and pull again")
        return PullOutcome(registry.add_gguf(dest, entry.id, verified_sha256=entry.sha256), "registered")
    fetched = download(entry.url(hub_url), dest, Pin(entry.size_bytes, entry.sha256), progress,
                       what=f"downloading {entry.id}", timeout=timeout)
    spec = registry.add_gguf(dest, entry.id, verified_sha256=entry.sha256)
    return PullOutcome(spec, "pulled", fetched.resumed_from, fetched.downloaded)
