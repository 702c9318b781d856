"""The curated catalogue of models a user may pull from the Hugging Face hub: each entry pinned by revision, size and
SHA-256. Reading it never touches the network; a bad catalogue is a one-line ConfigError naming the entry and key.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelNotFound

PULLED_FOLDER = "hub"  # under the models folder: files `models pull` fetched, which EdgeMind owns and may delete
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_REV_RE = re.compile(r"^[0-9a-f]{40}$")
_FILE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\.gguf$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One pullable model: where it lives on the hub and the exact bytes expected."""

    id: str
    name: str
    repo: str
    revision: str
    file: str
    size_bytes: int
    sha256: str
    params_b: float
    license: str

    def url(self, hub_url: str) -> str:
        """The hub's download address of the pinned file: `<hub>/<repo>/resolve/<revision>/<file>`."""
        return f"{hub_url.rstrip('/')}/{self.repo}/resolve/{self.revision}/{self.file}"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "repo": self.repo, "revision": self.revision, "file": self.file,
                "size_bytes": self.size_bytes, "sha256": self.sha256, "params_b": self.params_b,
                "license": self.license}


def _field(raw: dict[str, Any], where: str, key: str, kind: type, pattern: re.Pattern[str] | None = None) -> Any:
    value = raw.get(key)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ConfigError(f"{where}: `{key}` must be a {kind.__name__}, got {value!r}")
    if pattern is not None and not pattern.match(str(value)):
        raise ConfigError(f"{where}: `{key}` {value!r} is not valid")
    return value


def parse_catalog(text: str, source: str = "model catalogue") -> list[CatalogEntry]:
    """Entries of a catalogue's TOML text; every key checked, so a typo never becomes a download of the wrong thing."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from None
    rows = data.get("model", [])
    if not isinstance(rows, list):
        raise ConfigError(f"{source}: `model` must be a list of [[model]] tables")
    entries: list[CatalogEntry] = []
    for i, raw in enumerate(rows):
        where = f"{source}, entry {i + 1}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where} is not a table")
        size = _field(raw, where, "size_bytes", int)
        params = _field(raw, where, "params_b", float)
        if size <= 0 or params <= 0:
            raise ConfigError(f"{where}: `size_bytes` and `params_b` must be positive")
        entries.append(CatalogEntry(
            id=_field(raw, where, "id", str, _ID_RE), name=_field(raw, where, "name", str),
            repo=_field(raw, where, "repo", str, _REPO_RE), revision=_field(raw, where, "revision", str, _REV_RE),
            file=_field(raw, where, "file", str, _FILE_RE), size_bytes=size,
            sha256=_field(raw, where, "sha256", str, _SHA_RE), params_b=params,
            license=str(raw.get("license", "")),
        ))
    for key in ("id", "file"):  # one id per model, and two pulls never share a file
        values = [getattr(e, key) for e in entries]
        if len(set(values)) != len(values):
            raise ConfigError(f"{source}: two entries have the same `{key}`")
    return entries


def load_catalog(path: Path | None = None) -> list[CatalogEntry]:
    """The shipped catalogue, or the one at `path` (a user's or a mirror admin's own list)."""
    if path is None:
        text = resources.files("edgemind.resources").joinpath("model_catalog.toml").read_text(encoding="utf-8")
        return parse_catalog(text)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read model catalogue {path}: {exc}") from None
    return parse_catalog(text, f"model catalogue {path}")


def find_entry(entries: list[CatalogEntry], model_id: str) -> CatalogEntry:
    for entry in entries:
        if entry.id == model_id:
            return entry
    known = ", ".join(e.id for e in entries) or "none"
    raise ModelNotFound(f"{model_id!r} is not in the model catalogue; models you can pull: {known}")
