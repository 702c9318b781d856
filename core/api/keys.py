"""The API key: EDGEMIND_API_KEY when given, else one generated once and kept 0600 in the private data folder."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from ..data_folder import open_private, secure_data_folder
from ..errors import ConfigError

KEY_FILE = "api_key"
MIN_KEY_CHARS = 16


def load_or_create_api_key(home: Path, from_env: str | None = None) -> tuple[str, str]:
    """Return (key, where it came from). A key from the environment must be long enough to resist guessing."""
    if from_env is not None:
        key = from_env.strip()
        if len(key) < MIN_KEY_CHARS or any(c.isspace() for c in key):
            raise ConfigError(f"EDGEMIND_API_KEY must be at least {MIN_KEY_CHARS} characters with no spaces")
        return key, "EDGEMIND_API_KEY"
    path = home / KEY_FILE
    try:
        secure_data_folder(home)
        if path.exists():
            mode = path.stat().st_mode & 0o777
            if os.name == "posix" and mode & 0o077:
                raise ConfigError(f"{path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`")
            key = path.read_text(encoding="utf-8").strip()
            if len(key) >= MIN_KEY_CHARS:
                return key, str(path)
        key = "em-" + secrets.token_urlsafe(32)
        # Created 0600 in one step (whatever the umask): there is no moment where another user could read it.
        fd = open_private(path, os.O_WRONLY | os.O_TRUNC)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(key + "\n")
        return key, str(path)
    except OSError as exc:
        raise ConfigError(f"cannot read or write the API key file {path}: {exc.strerror or exc}") from None
