"""Keys of remote model servers (OpenAI-compatible endpoints), kept out of the database.

The database holds only a reference (`edgemind-secret:keyring` or `edgemind-secret:file`); the key itself goes to the
OS keyring where one works, else to `remote_keys.json` (0600) in the private data folder (core/secret_store.py). A
database is copied, backed up and opened by more tools than a key should be; it must never hold one in plain text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..secret_store import REFERENCE, SecretStore, is_reference

__all__ = ["KEYS_FILE", "REFERENCE", "SERVICE", "RemoteKeys", "is_reference"]

SERVICE = "EdgeMind remote model key"
KEYS_FILE = "remote_keys.json"


@dataclass(frozen=True, slots=True)
class RemoteKeys(SecretStore):
    """The keys of one data folder's remote models, by model id."""

    service: ClassVar[str] = SERVICE
    file_name: ClassVar[str] = KEYS_FILE
    what: ClassVar[str] = "remote model key"
