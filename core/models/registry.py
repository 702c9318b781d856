"""The model registry: one list of every model EdgeMind can use, and the gate each local file passes before use.

Bundled models come from the manifest; user GGUF files and OpenAI-compatible endpoints are rows in SQLite;
Ollama models are listed live from the Ollama server when one answers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import BigInteger, DateTime, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from ..errors import ModelError, ModelIntegrityError, ModelNotFound
from ..settings import Settings
from ..storage.db import Base
from .bundled import install_bundled
from .integrity import Progress, check_gguf, check_size_and_hash, sha256_file
from .manifest import LOCAL_BACKENDS, ModelSpec, load_bundled_manifest

log = logging.getLogger(__name__)
OLLAMA_PREFIX = "ollama:"
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")


class UserModelRow(Base):
    __tablename__ = "user_models"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    backend: Mapped[str] = mapped_column(String(32))
    path: Mapped[str | None] = mapped_column(Text, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    context_length: Mapped[int] = mapped_column(Integer, default=0)
    family: Mapped[str] = mapped_column(String(64), default="")
    endpoint: Mapped[str | None] = mapped_column(Text, nullable=True)
    remote_model: Mapped[str | None] = mapped_column(Text, nullable=True)
    api_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(UTC))


class VerificationRow(Base):
    """Remembers that a file with this size and mtime hashed to sha256, so we hash 500 MB once, not every load."""

    __tablename__ = "model_verifications"
    path: Mapped[str] = mapped_column(Text, primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))


def _row_to_spec(row: UserModelRow) -> ModelSpec:
    return ModelSpec(
        id=row.id, backend=row.backend, family=row.family, roles=("chat",), context_length=row.context_length,
        sha256=row.sha256, size_bytes=row.size_bytes, path=Path(row.path) if row.path else None, bundled=False,
        endpoint=row.endpoint, remote_model=row.remote_model, api_key=row.api_key,
    )


class ModelRegistry:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session],
                 ollama_lister: Callable[..., list[str]] | None = None) -> None:
        self._settings = settings
        self._sessions = sessions
        self._bundled = {s.id: s for s in load_bundled_manifest(settings.models_dir)}
        self._ollama_lister = ollama_lister

    # ---- listing and lookup -------------------------------------------------------------------------------------
    def bundled(self) -> list[ModelSpec]:
        return list(self._bundled.values())

    def user_models(self) -> list[ModelSpec]:
        with self._sessions() as s:
            return [_row_to_spec(r) for r in s.scalars(select(UserModelRow).order_by(UserModelRow.added_at))]

    def ollama_models(self) -> list[ModelSpec]:
        """Models of the configured Ollama server; empty when none answers (that is not an error for a list)."""
        if self._ollama_lister is None:
            return []
        try:
            names = self._ollama_lister(self._settings.ollama_host, api_key=self._settings.ollama_api_key)
        except Exception as exc:  # any failure to reach Ollama just means "no Ollama models"
            log.debug("ollama not listed: %s", exc)
            return []
        return [self._ollama_spec(name) for name in names]

    def list_models(self, *, include_ollama: bool = True) -> list[ModelSpec]:
        models = self.bundled() + self.user_models()
        return models + (self.ollama_models() if include_ollama else [])

    def get(self, model_id: str | None) -> ModelSpec:
        model_id = model_id or self._settings.default_model
        if model_id in self._bundled:
            return self._bundled[model_id]
        with self._sessions() as s:
            row = s.get(UserModelRow, model_id)
            if row is not None:
                return _row_to_spec(row)
        if model_id.startswith(OLLAMA_PREFIX) and len(model_id) > len(OLLAMA_PREFIX):
            return self._ollama_spec(model_id[len(OLLAMA_PREFIX):])
        known = ", ".join(m.id for m in self.bundled() + self.user_models())
        raise ModelNotFound(f"unknown model {model_id!r}; known models: {known} (Ollama models as ollama:NAME)")

    def _ollama_spec(self, name: str) -> ModelSpec:
        return ModelSpec(id=OLLAMA_PREFIX + name, backend="ollama", roles=("chat",),
                         endpoint=self._settings.ollama_host, remote_model=name,
                         api_key=self._settings.ollama_api_key)

    # ---- the gate before use ------------------------------------------------------------------------------------
    def prepare(self, spec: ModelSpec, progress: Progress | None = None) -> Path:
        """Return a local file that is whole, GGUF and matches its pin; install bundled models on first use."""
        if spec.backend not in LOCAL_BACKENDS or spec.path is None:
            raise ModelError(f"model {spec.id!r} is served by {spec.backend}; it has no local file")
        if spec.bundled and not spec.path.exists():
            log.info("installing bundled model %s into %s", spec.id, spec.path)
            install_bundled(spec, progress)
            self._remember(spec.path, spec.sha256 or "")
        if not spec.path.exists():
            raise ModelIntegrityError(f"model {spec.id!r}: file {spec.path} is missing")
        check_gguf(spec.path, spec.id)
        if spec.sha256 and not self._verified(spec.path, spec.sha256):
            check_size_and_hash(spec.path, spec.id, spec.sha256, spec.size_bytes, progress)
            self._remember(spec.path, spec.sha256)
        return spec.path

    def verify(self, model_id: str, progress: Progress | None = None) -> ModelSpec:
        """Full check (header and hash, never the cached stamp); raise ModelIntegrityError if it fails."""
        spec = self.get(model_id)
        if spec.backend != "llama_cpp" or spec.path is None:
            raise ModelError(f"model {spec.id!r} is remote ({spec.backend}); there is no file to verify")
        if spec.bundled and not spec.path.exists():
            return replace(spec, path=self.prepare(spec, progress))
        check_gguf(spec.path, spec.id)
        if spec.sha256:
            check_size_and_hash(spec.path, spec.id, spec.sha256, spec.size_bytes, progress)
            self._remember(spec.path, spec.sha256)
        return spec

    def _verified(self, path: Path, sha256: str) -> bool:
        st = path.stat()
        with self._sessions() as s:
            row = s.get(VerificationRow, str(path))
            return bool(row and row.sha256 == sha256 and row.size_bytes == st.st_size
                        and row.mtime_ns == st.st_mtime_ns)

    def _remember(self, path: Path, sha256: str) -> None:
        st = path.stat()
        with self._sessions.begin() as s:
            s.merge(VerificationRow(path=str(path), size_bytes=st.st_size, mtime_ns=st.st_mtime_ns, sha256=sha256))

    # ---- user models --------------------------------------------------------------------------------------------
    def _check_new_id(self, model_id: str) -> None:
        if not _ID_RE.match(model_id):
            raise ModelError(f"model id {model_id!r} is not valid: use letters, digits and . _ - : / (max 128)")
        if model_id in self._bundled or model_id.startswith(OLLAMA_PREFIX):
            raise ModelError(f"model id {model_id!r} is reserved; pick another with --id")
        with self._sessions() as s:
            if s.get(UserModelRow, model_id) is not None:
                raise ModelError(f"a model with id {model_id!r} already exists; pick another with --id")

    def add_gguf(self, path: Path, model_id: str | None = None, progress: Progress | None = None) -> ModelSpec:
        path = Path(path).expanduser().resolve()
        model_id = model_id or re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-").lower() or "model"
        self._check_new_id(model_id)
        header = check_gguf(path, model_id)
        sha = sha256_file(path, progress, f"hashing {path.name}")
        row = UserModelRow(
            id=model_id, backend="llama_cpp", path=str(path), sha256=sha, size_bytes=path.stat().st_size,
            context_length=header.context_length or 0, family=header.architecture or "",
        )
        with self._sessions.begin() as s:
            s.add(row)
        self._remember(path, sha)
        return self.get(model_id)

    def add_openai(self, endpoint: str, remote_model: str, api_key: str | None = None,
                   model_id: str | None = None) -> ModelSpec:
        if not endpoint.startswith(("http://", "https://")):
            raise ModelError(f"endpoint {endpoint!r} must be an http:// or https:// URL")
        if not remote_model.strip():
            raise ModelError("--remote-model must name the model on that server")
        model_id = model_id or f"openai:{remote_model}"
        self._check_new_id(model_id)
        with self._sessions.begin() as s:
            s.add(UserModelRow(id=model_id, backend="openai", endpoint=endpoint.rstrip("/"), remote_model=remote_model,
                               api_key=api_key, context_length=0, family=""))
        return self.get(model_id)

    def remove(self, model_id: str) -> str:
        """Forget a user model (its file stays where it is); for a bundled model, delete the installed copy."""
        spec = self.get(model_id)
        if spec.bundled:
            if spec.path and spec.path.exists():
                spec.path.unlink()
                return f"deleted the installed copy of bundled model {model_id} (it is reinstalled on next use)"
            return f"bundled model {model_id} is not installed; nothing to remove"
        if spec.backend == "ollama":
            raise ModelError(f"{model_id} lives on the Ollama server; remove it there with `ollama rm`")
        with self._sessions.begin() as s:
            row = s.get(UserModelRow, model_id)
            if row is not None:
                s.delete(row)
        return f"removed {model_id} (its file, if any, was left in place)"
