"""Secrets kept out of plain files: the OS keyring where one works, else a 0600 JSON file in the private data folder.

What a caller stores in its own file or database is only a reference (`edgemind-secret:keyring` or
`edgemind-secret:file`) saying where the value went. Used by remote model keys and MCP servers' env/headers secrets.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .data_folder import secure_data_folder, write_private
from .errors import ConfigError

log = logging.getLogger(__name__)

REFERENCE = "edgemind-secret:"
KEYRING, FILE = "keyring", "file"


def is_reference(value: str | None) -> bool:
    """True for what a file or database holds in place of a secret; a plain value is not one."""
    return bool(value) and str(value).startswith(REFERENCE)


def usable_keyring() -> Any | None:
    """The `keyring` module when a real backend answers here (not its "fail" or null backends), else None."""
    try:
        import keyring  # lazy: keyring probes D-Bus/Keychain backends on import (~50 ms), only when a secret is used
    except ImportError:
        return None
    try:
        if getattr(keyring.get_keyring(), "priority", 0) < 1:
            return None
    except Exception as exc:  # a broken backend configuration: the file is the fallback, never a crash
        log.info("OS keyring not usable (%s); using a 0600 file", exc)
        return None
    return keyring


@dataclass(frozen=True, slots=True)
class SecretStore:
    """Where one kind of secret of one data folder lives. `store`: "auto" (the OS keyring when one works, else the
    file), "keyring" (the keyring or an error) or "file" (never touch the keyring: tests, shared machines).

    Subclasses name their keyring service, fallback file and what they keep (for messages); ids are theirs to choose
    and are namespaced by the data folder, so two data folders never share an entry."""

    home: Path
    store: str = "auto"
    service: ClassVar[str] = "EdgeMind secret"
    file_name: ClassVar[str] = "secrets.json"
    what: ClassVar[str] = "secret"

    @property
    def where(self) -> str:
        """Where a new secret would go here: "keyring" or "file" (what `doctor` and the README name)."""
        return KEYRING if self.store != FILE and usable_keyring() is not None else FILE

    def _account(self, secret_id: str) -> str:
        folder = hashlib.sha256(str(self.home.resolve()).encode()).hexdigest()[:16]
        return f"{folder}:{secret_id}"

    def save(self, secret_id: str, value: str) -> str:
        """Keep `value` under `secret_id`; returns the reference to store instead of it."""
        keyring = usable_keyring() if self.store != FILE else None
        if keyring is not None:
            try:
                keyring.set_password(self.service, self._account(secret_id), value)
                return REFERENCE + KEYRING
            except Exception as exc:  # a locked or refusing keyring: the 0600 file, said once in the log
                if self.store == KEYRING:
                    raise ConfigError(f"the OS keyring refused the {self.what} of {secret_id}: {exc}") from None
                log.warning("the OS keyring refused the %s of %s (%s); keeping it in a 0600 file",
                            self.what, secret_id, exc)
        elif self.store == KEYRING:
            raise ConfigError(f"no usable OS keyring for the {self.what}; set audit_key_store = \"file\"")
        values = self._read_file()
        values[secret_id] = value
        self._write_file(values)
        return REFERENCE + FILE

    def load(self, secret_id: str, reference: str | None) -> str | None:
        """The value a reference stands for; None when there is none (or it was lost with the keyring)."""
        if not is_reference(reference):
            return reference or None
        if reference == REFERENCE + KEYRING:
            keyring = usable_keyring()
            if keyring is None:
                log.warning("the %s of %s is in an OS keyring that is not usable now", self.what, secret_id)
                return None
            try:
                found = keyring.get_password(self.service, self._account(secret_id))
            except Exception as exc:
                log.warning("the OS keyring did not give the %s of %s: %s", self.what, secret_id, exc)
                return None
            return str(found) if found else None
        if reference == REFERENCE + FILE:
            return self._read_file().get(secret_id)
        return None

    def forget(self, secret_id: str, reference: str | None) -> None:
        if reference == REFERENCE + KEYRING:
            keyring = usable_keyring()
            if keyring is not None:
                try:
                    keyring.delete_password(self.service, self._account(secret_id))
                except Exception as exc:  # already gone is fine
                    log.debug("no keyring entry to forget for %s: %s", secret_id, exc)
        elif reference == REFERENCE + FILE:
            values = self._read_file()
            if values.pop(secret_id, None) is not None:
                self._write_file(values)

    def _read_file(self) -> dict[str, str]:
        path = self.home / self.file_name
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"the {self.what} file {path} cannot be read ({exc}); fix or remove it") from None
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _write_file(self, values: dict[str, str]) -> None:
        path = self.home / self.file_name
        try:
            secure_data_folder(self.home)
            write_private(path, json.dumps(values, indent=1, sort_keys=True) + "\n")
        except OSError as exc:
            raise ConfigError(f"cannot write the {self.what} file {path}: {exc.strerror or exc}") from None
