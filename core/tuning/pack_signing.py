"""Who made a pack: this user's Ed25519 signing key (kept like other secrets), signature checks, and the list of
signers this user trusts.

A pack travels between users, so a shared-secret HMAC could only be checked by whoever holds the secret: a public
key in the pack with its fingerprint, checked against a trust list the importing user keeps, works across users.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..data_folder import private_folder, write_private
from ..errors import PackError
from ..secret_store import SecretStore

ALGORITHM = "ed25519"
_KEY_ID = "pack-signing-key"


class PackKeys(SecretStore):
    """The pack signing key: the OS keyring where one works, else a 0600 file (audit_key_store decides)."""

    service: ClassVar[str] = "EdgeMind pack signing key"
    file_name: ClassVar[str] = "pack_signing_key.json"
    what: ClassVar[str] = "pack signing key"


def fingerprint(public_key: bytes) -> str:
    """What a user compares out loud: the first 128 bits of the key's SHA-256, in groups of four hex digits."""
    digest = hashlib.sha256(public_key).hexdigest()[:32]
    return "ed25519:" + "-".join(digest[i:i + 4] for i in range(0, 32, 4))


@dataclass(frozen=True)
class Signer:
    """This user's key pair; the public half goes into every pack they export."""

    private: Ed25519PrivateKey

    @property
    def public_key(self) -> bytes:
        return self.private.public_key().public_bytes_raw()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)


def existing_signer(home: Path, store: str = "auto") -> Signer | None:
    """This data folder's signing key if one was made (import and inspect only compare with it: they never make
    one, as a refused import writes nothing)."""
    return load_signer(home, store) if (home / "packs" / "signer.json").exists() else None


def load_signer(home: Path, store: str = "auto") -> Signer:
    """This data folder's signing key, made on first use. Where it went (keyring or file) is remembered in
    packs/signer.json beside its public half, never the key itself."""
    keys = PackKeys(home, store)
    record = home / "packs" / "signer.json"
    try:
        saved = json.loads(record.read_text(encoding="utf-8"))
    except FileNotFoundError:
        saved = None
    except (OSError, ValueError) as exc:
        raise PackError(f"cannot read {record} ({exc}); remove it to make a new signing key") from None
    if isinstance(saved, dict):
        secret = keys.load(_KEY_ID, str(saved.get("reference", "")))
        if secret:
            return Signer(Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret)))
        raise PackError(f"the pack signing key named in {record} is gone (keyring reset?); "
                        "remove that file to make a new key (packs you shared before will show a new fingerprint)")
    private = Ed25519PrivateKey.generate()
    reference = keys.save(_KEY_ID, private.private_bytes_raw().hex())
    signer = Signer(private)
    private_folder(record.parent)
    write_private(record, json.dumps({"reference": reference, "fingerprint": signer.fingerprint,
                                      "public_key": base64.b64encode(signer.public_key).decode()}) + "\n")
    return signer


def public_key_from(text: object) -> bytes:
    """A pack's public key (base64 of the 32 raw bytes), or PackError."""
    try:
        raw = base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if not isinstance(text, str) or len(raw) != 32:
        raise PackError("pack refused: the manifest's signer public key is not an Ed25519 key")
    return raw


def verify(public_key: bytes, signature: bytes, message: bytes) -> None:
    """PackError unless `signature` is the key's signature of `message` (a changed manifest fails here)."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        raise PackError("pack refused: the signature does not match the manifest (tampered or damaged)") from None


class TrustList:
    """Fingerprints of the signers whose packs this user imports without asking again (packs/trusted.json)."""

    def __init__(self, home: Path) -> None:
        self._path = home / "packs" / "trusted.json"

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise PackError(f"cannot read the trusted signers file {self._path} ({exc}); fix or remove it") from None
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def trusted(self, fingerprint_: str) -> bool:
        return fingerprint_ in self._read()

    def add(self, fingerprint_: str, note: str) -> None:
        entries = self._read()
        entries[fingerprint_] = note
        private_folder(self._path.parent)
        write_private(self._path, json.dumps(entries, indent=1, sort_keys=True) + "\n")

    def entries(self) -> dict[str, str]:
        return self._read()
