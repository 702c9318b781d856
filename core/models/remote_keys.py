"""Keys of remote model servers (OpenAI-compatible endpoints), kept out of the database.

The database holds only a reference (`edgemind-secret:keyring` or `edgemind-secret:file`); the key itself goes to the
OS keyring where one works, else to `remote_keys.json` (0600) in the private data folder. A database is copied,
backed up and opened by more tools than a key should be; it must never hold one in plain text.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data_folder import secure_data_folder, write_private
from ..errors import ConfigError

log = logging.getLogger(__name__)

SERVICE = "EdgeMind remote model key"
KEYS_FILE = "remote_keys.json"
REFERENCE = "edgemind-secret:"
_KEYRING, _FILE = "keyring", "file"


def is_reference(value: str | None) -> bool:
    """True for what the database holds in place of a key; a plain key (written by an older version) is not one."""
    return bool(value) and str(value).startswith(REFERENCE)


def _usable_keyring() -> Any | None:
    """The `keyring` module when a real backend answers here (not its "fail" or null backends), else None."""
    try:
        import keyring  # lazy: keyring probes D-Bus/Keychain backends on import (~50 ms), only when a key is used
    except ImportError:
        return None
    try:
        if getattr(keyring.get_keyring(), "priority", 0) < 1:
            return None
    except Exception as exc:  # a broken backend configuration: the file is the fallback, never a crash
        log.info("OS keyring not usable for remote keys (%s); using a 0600 file", exc)
        return None
    return keyring


@dataclass(frozen=True, slots=True)
class RemoteKeys:
    """Where the keys of one data folder's remote models live. `store`: "auto" (the OS keyring when one works, else
    the file), "keyring" (the keyring or an error) or "file" (never touch the keyring: tests, shared machines)."""

    home: Path
    store: str = "auto"

    @property
    def where(self) -> str:
        """Where a new key would go here: "keyring" or "file" (what `doctor` and the README name)."""
        return _KEYRING if self.store != _FILE and _usable_keyring() is not None else _FILE

    def _account(self, model_id: str) -> str:
        folder = hashlib.sha256(str(self.home.resolve()).encode()).hexdigest()[:16]
        return f"{folder}:{model_id}"

    def save(self, model_id: str, key: str) -> str:
        """Keep `key` for `model_id`; returns the reference the database stores instead of it."""
        keyring = _usable_keyring() if self.store != _FILE else None
        if keyring is not None:
            try:
                keyring.set_password(SERVICE, self._account(model_id), key)
                return REFERENCE + _KEYRING
            except Exception as exc:  # a locked or refusing keyring: the 0600 file, said once in the log
                if self.store == _KEYRING:
                    raise ConfigError(f"the OS keyring refused the key of {model_id}: {exc}") from None
                log.warning("the OS keyring refused the key of %s (%s); keeping it in a 0600 file", model_id, exc)
        elif self.store == _KEYRING:
            raise ConfigError("no usable OS keyring for the remote model key; set audit_key_store = \"file\"")
        keys = self._read_file()
        keys[model_id] = key
        self._write_file(keys)
        return REFERENCE + _FILE

    def load(self, model_id: str, reference: str | None) -> str | None:
        """The key a reference stands for; None when there is none (or it was lost with the keyring)."""
        if not is_reference(reference):
            return reference or None
        if reference == REFERENCE + _KEYRING:
            keyring = _usable_keyring()
            if keyring is None:
                log.warning("the key of %s is in an OS keyring that is not usable now", model_id)
                return None
            try:
                found = keyring.get_password(SERVICE, self._account(model_id))
            except Exception as exc:
                log.warning("the OS keyring did not give the key of %s: %s", model_id, exc)
                return None
            return str(found) if found else None
        return self._read_file().get(model_id)

    def forget(self, model_id: str, reference: str | None) -> None:
        if reference == REFERENCE + _KEYRING:
            keyring = _usable_keyring()
            if keyring is not None:
                try:
                    keyring.delete_password(SERVICE, self._account(model_id))
                except Exception as exc:  # already gone is fine
                    log.debug("no keyring entry to forget for %s: %s", model_id, exc)
        elif reference == REFERENCE + _FILE:
            keys = self._read_file()
            if keys.pop(model_id, None) is not None:
                self._write_file(keys)

    def _read_file(self) -> dict[str, str]:
        path = self.home / KEYS_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"the remote keys file {path} cannot be read ({exc}); fix or remove it") from None
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _write_file(self, keys: dict[str, str]) -> None:
        path = self.home / KEYS_FILE
        try:
            secure_data_folder(self.home)
            write_private(path, json.dumps(keys, indent=1, sort_keys=True) + "\n")
        except OSError as exc:
            raise ConfigError(f"cannot write the remote keys file {path}: {exc.strerror or exc}") from None
