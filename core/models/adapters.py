"""Where tuned LoRA adapters live: `<data>/adapters/<name>/` holds `adapter.gguf` (what llama.cpp loads) and
`adapter.json` (what it was made from and how it measured). The registry lists each as a model of its own.

The manifest pins the adapter's SHA-256 and its base model's, so a swapped adapter file or a base it was not made
for is refused before llama.cpp reads a byte of it.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgemind.kernels.gguf_header import GGUFHeader

from ..data_folder import private_folder, write_private
from ..errors import AdapterMismatch, ModelError
from .integrity import sha256_file

ADAPTERS_FOLDER = "adapters"
ADAPTER_FILE = "adapter.gguf"
MANIFEST_FILE = "adapter.json"
KINDS = ("tune", "distill", "pack")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class AdapterManifest:
    """What an adapter is: `data_summary` describes the data (counts, not the data itself) and `evaluation` holds the
    figures measured when it was made."""

    name: str
    base_model: str
    base_sha256: str
    adapter_sha256: str
    rank: int
    alpha: float
    kind: str = "tune"
    data_summary: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str) -> AdapterManifest:
        """Read a manifest written by us or carried in a pack; a wrong shape is one ModelError naming `where`."""
        if not isinstance(data, dict):
            raise ModelError(f"{where}: the adapter manifest is not a JSON object")
        try:
            manifest = cls(
                name=_text(data, "name"), base_model=_text(data, "base_model"), base_sha256=_text(data, "base_sha256"),
                adapter_sha256=_text(data, "adapter_sha256"), rank=int(data["rank"]), alpha=float(data["alpha"]),
                kind=_text(data, "kind"), data_summary=dict(data.get("data_summary") or {}),
                evaluation=dict(data.get("evaluation") or {}), created=str(data.get("created") or ""),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{where}: the adapter manifest is missing or has a bad field ({exc})") from None
        check_name(manifest.name)
        if manifest.kind not in KINDS:
            raise ModelError(f"{where}: adapter kind {manifest.kind!r} is not one of {', '.join(KINDS)}")
        for key in ("base_sha256", "adapter_sha256"):
            if not re.fullmatch(r"[0-9a-f]{64}", getattr(manifest, key)):
                raise ModelError(f"{where}: {key} is not a SHA-256 hex digest")
        if manifest.rank <= 0:
            raise ModelError(f"{where}: rank must be a positive integer")
        return manifest


def _text(data: dict[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string")
    return value


def is_adapter_name(name: str) -> bool:
    return bool(_NAME_RE.match(name))


def check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise ModelError(f"adapter name {name!r} is not valid: use letters, digits and . _ - (max 64, no slash)")
    return name


def check_adapter_fits(adapter: GGUFHeader, base: GGUFHeader, name: str) -> None:
    """Refuse (AdapterMismatch, one line) an adapter file that does not fit its base, from the two headers alone:
    llama-cpp-python 0.3.36 reports an adapter llama.cpp rejected (another architecture) as loaded, and the first
    decode then crashes the process (measured: SIGSEGV), so a foreign adapter must never reach it. The registry checks
    an adapter with this before it is added or loaded, and tuning before it compares the exported file."""
    if adapter.metadata.get("general.type") != "adapter" or adapter.metadata.get("adapter.type") != "lora":
        raise AdapterMismatch(f"adapter {name!r}: its file is not a GGUF LoRA adapter")
    if adapter.architecture != base.architecture:
        raise AdapterMismatch(
            f"adapter {name!r} is for a {adapter.architecture} model; its base is {base.architecture}")
    shapes = {t.name: t.dims for t in base.tensors}
    dims = {t.name: t.dims for t in adapter.tensors}
    pairs = [n.removesuffix(".lora_a") for n in dims if n.endswith(".lora_a")]
    if not pairs or len(pairs) * 2 != len(dims):
        raise AdapterMismatch(f"adapter {name!r}: its tensors are not lora_a/lora_b pairs")
    for weight in pairs:
        a, b, w = dims[weight + ".lora_a"], dims.get(weight + ".lora_b"), shapes.get(weight)
        # ggml order: the base weight is [in, out], lora_a [in, rank], lora_b [rank, out]
        if b is None or w is None or len(a) != 2 or len(b) != 2 or len(w) != 2 or (a[0], b[1]) != w or a[1] != b[0]:
            raise AdapterMismatch(f"adapter {name!r} does not fit its base: {weight} has another shape")


class AdapterStore:
    """The adapters folder of one data folder. Names are folder names, checked so none can leave the folder."""

    def __init__(self, home: Path) -> None:
        self._root = home / ADAPTERS_FOLDER

    def path(self, name: str) -> Path:
        return self._root / check_name(name) / ADAPTER_FILE

    def names(self) -> list[str]:
        if not self._root.is_dir():
            return []
        return sorted(p.name for p in self._root.iterdir()
                      if _NAME_RE.match(p.name) and (p / MANIFEST_FILE).is_file() and not p.is_symlink())

    def get(self, name: str) -> AdapterManifest | None:
        file = self._root / check_name(name) / MANIFEST_FILE
        if not file.is_file():
            return None
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"adapter {name!r}: cannot read {file}: {exc}") from None
        manifest = AdapterManifest.from_dict(data, f"adapter {name!r}")
        if manifest.name != name:
            raise ModelError(f"adapter {name!r}: its manifest names {manifest.name!r}")
        return manifest

    def list(self) -> list[AdapterManifest]:
        found = []
        for name in self.names():
            try:
                manifest = self.get(name)
            except ModelError:
                continue  # a damaged adapter is reported when used, not by every listing
            if manifest is not None:
                found.append(manifest)
        return found

    def save(self, manifest: AdapterManifest, gguf_file: Path, *, move: bool = False) -> Path:
        """Copy (or move) an adapter file in under its manifest's name; the file's hash must be the manifest's."""
        folder = self._root / check_name(manifest.name)
        if folder.exists():
            raise ModelError(f"an adapter named {manifest.name!r} already exists; pick another name")
        if sha256_file(gguf_file) != manifest.adapter_sha256:
            raise ModelError(f"adapter {manifest.name!r}: {gguf_file.name} does not match the manifest's SHA-256")
        private_folder(self._root)
        staging = self._root / f".{manifest.name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        private_folder(staging)
        try:
            (shutil.move if move else shutil.copyfile)(str(gguf_file), str(staging / ADAPTER_FILE))
            write_private(staging / MANIFEST_FILE, json.dumps(manifest.as_dict(), indent=1))
            staging.rename(folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return folder / ADAPTER_FILE

    def remove(self, name: str) -> bool:
        folder = self._root / check_name(name)
        if not folder.is_dir() or folder.is_symlink():
            return False
        shutil.rmtree(folder)
        return True
