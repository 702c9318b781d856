"""The personalization packs service the shells use: export adapters as a signed pack, inspect one, import one.

It only composes the data folder's adapter store, registry, trust list and signing key; core/tuning/packs.py does
the checking.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..models.registry import ModelRegistry
from ..settings import Settings
from ..tuning.pack_signing import TrustList, existing_signer, load_signer
from ..tuning.packs import (
    SUFFIX,
    Imported,
    PackInfo,
    PackManifest,
    export_pack,
    import_pack,
    inspect_pack,
)
from .services import open_registry


class Packs:
    """Packs of one data folder. The signing key is made on the first export, never by an import or inspect."""

    suffix = SUFFIX

    def __init__(self, settings: Settings, registry: ModelRegistry) -> None:
        self._home = settings.home
        self._key_store = settings.audit_key_store
        self._registry = registry
        self._trust = TrustList(settings.home)

    @classmethod
    def open(cls, settings: Settings) -> Packs:
        return cls(settings, open_registry(settings)[0])

    def export(self, names: Sequence[str], out: Path, *, overwrite: bool = False) -> PackManifest:
        signer = load_signer(self._home, self._key_store)
        return export_pack(self._registry.adapters, names, out, signer, overwrite=overwrite)

    def inspect(self, path: Path) -> PackInfo:
        return inspect_pack(path, self._trust, existing_signer(self._home, self._key_store))

    def import_pack(self, path: Path, *, rename: str | None = None, trust_signer: bool = False) -> Imported:
        return import_pack(path, self._registry, self._trust, existing_signer(self._home, self._key_store),
                           rename=rename, trust_signer=trust_signer)

    def fingerprint(self) -> str:
        """This user's signing key fingerprint (made now if there is none yet), for others to compare."""
        return load_signer(self._home, self._key_store).fingerprint
