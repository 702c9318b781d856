"""The model registry: one list of every model EdgeMind can use, and the gate each local file passes before use.

Bundled models come from the manifest; user GGUF files and OpenAI-compatible endpoints are rows in SQLite;
Ollama's models (and those of any live source a package adds, `sources.py`) are listed live when the server answers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import BigInteger, DateTime, Integer, String, Text, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from edgemind.kernels.gguf_header import GGUFHeader

from ..errors import ModelError, ModelIntegrityError, ModelNotFound
from ..settings import Settings
from ..storage.schema import Base
from .adapters import AdapterManifest, AdapterStore, check_adapter_fits, is_adapter_name
from .bundled import install_bundled
from .catalog import PULLED_FOLDER
from .integrity import Progress, check_gguf, check_size_and_hash, fingerprint, sha256_file
from .manifest import LOCAL_BACKENDS, ModelSpec, load_bundled_manifest
from .remote_keys import RemoteKeys, is_reference
from .sources import ModelSource, OllamaSource

log = logging.getLogger(__name__)
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
    # never the key itself: a reference to where remote_keys.py keeps it (plain only in rows older versions wrote)
    api_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(UTC))


class VerificationRow(Base):
    """Remembers that a file hashed to sha256, so we hash 500 MB once, not every load. Size and mtime alone can be put
    back after an edit (os.utime), so the row also keeps the inode change time and inode (which an in-place write or
    a replacement changes, and no unprivileged call restores) and a fingerprint of the header, tensor index and
    sampled data, checked on every load."""

    __tablename__ = "model_verifications"
    path: Mapped[str] = mapped_column(Text, primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    ctime_ns: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    inode: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)


def _row_to_spec(row: UserModelRow, api_key: str | None = None) -> ModelSpec:
    """A user model as a spec; its key only when given (listings never carry one)."""
    return ModelSpec(
        id=row.id, backend=row.backend, family=row.family, roles=("chat",), context_length=row.context_length,
        sha256=row.sha256, size_bytes=row.size_bytes, path=Path(row.path) if row.path else None, bundled=False,
        endpoint=row.endpoint, remote_model=row.remote_model, api_key=api_key,
    )


def _file_changed(path: Path) -> ModelIntegrityError:
    return ModelIntegrityError(
        f"model file changed since it was verified: {path} (same size and time, different bytes); "
        "reinstall it or add it again")


class ModelRegistry:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session],
                 ollama_lister: Callable[..., list[str]] | None = None,
                 sources: Mapping[str, ModelSource] | None = None, keys: RemoteKeys | None = None,
                 adapters: AdapterStore | None = None) -> None:
        """`sources`: live model sources by name (`model_sources()` finds the installed ones). Unless it names one,
        "ollama" is the configured Ollama server, listed by `ollama_lister` (without one, `ollama:NAME` ids still
        resolve but none are listed)."""
        self._settings = settings
        self._sessions = sessions
        self._bundled = {s.id: s for s in load_bundled_manifest(settings.models_dir)}
        self._sources: dict[str, ModelSource] = dict(sources or {})
        self._sources.setdefault("ollama", OllamaSource(ollama_lister))
        # Files this process already checked (header, and hash when pinned), by path, size, mtime, inode change time and
        # inode (an edit that puts size and mtime back still moves the change time), with the header read: reading a
        # GGUF header means parsing its whole vocabulary (~0.5 s for the default model), which no request should pay
        # twice, nor an adapter checked against its base.
        self._prepared: dict[tuple[str, int, int, int, int], GGUFHeader] = {}
        # Remote models' keys: the OS keyring (or a 0600 file), never the database; audit_key_store says which.
        self._keys = keys or RemoteKeys(settings.home, settings.audit_key_store)
        self.adapters = adapters or AdapterStore(settings.home)
        self._move_plain_keys()

    # ---- listing and lookup -------------------------------------------------------------------------------------
    def bundled(self) -> list[ModelSpec]:
        return list(self._bundled.values())

    def user_models(self) -> list[ModelSpec]:
        with self._sessions() as s:
            return [_row_to_spec(r) for r in s.scalars(select(UserModelRow).order_by(UserModelRow.added_at))]

    def adapter_models(self) -> list[ModelSpec]:
        """Tuned adapters, each a model of its own on its base's file; one whose base is gone is not listed."""
        specs = []
        for manifest in self.adapters.list():
            try:
                specs.append(self._adapter_spec(manifest))
            except ModelError as exc:
                log.debug("adapter %s not listed: %s", manifest.name, exc)
        return specs

    def _adapter_spec(self, manifest: AdapterManifest) -> ModelSpec:
        base = self.get(manifest.base_model)
        if base.adapter is not None or base.backend not in LOCAL_BACKENDS or base.path is None:
            raise ModelError(f"adapter {manifest.name!r}: its base {manifest.base_model!r} is not a local GGUF model")
        # never `bundled`: removing an adapter must not take its base's installed copy with it
        return replace(base, id=manifest.name, backend="llama_cpp", roles=("chat",), bundled=False, sources=(),
                       adapter=self.adapters.path(
            manifest.name), adapter_sha256=manifest.adapter_sha256, base_model=base.id)

    def live_models(self, source: str | None = None) -> list[ModelSpec]:
        """Models of the live sources (or of one); a source that does not answer lists none (not an error for a
        list)."""
        specs = []
        for name in sorted(self._sources) if source is None else [source] if source in self._sources else []:
            try:
                found = self._sources[name].names(self._settings)
                specs += [self._sources[name].spec(self._settings, model) for model in found]
            except Exception as exc:  # an unreachable server, or a broken third-party source, just lists nothing
                log.debug("model source %s not listed: %s", name, exc)
        return specs

    def ollama_models(self) -> list[ModelSpec]:
        """Models of the configured Ollama server; empty when none answers."""
        return self.live_models("ollama")

    def list_models(self, *, include_ollama: bool = True) -> list[ModelSpec]:
        """Bundled and user models, and (include_ollama) those of every live source, Ollama's and any other."""
        models = self.bundled() + self.user_models() + self.adapter_models()
        return models + (self.live_models() if include_ollama else [])

    def get(self, model_id: str | None) -> ModelSpec:
        model_id = model_id or self._settings.default_model
        if model_id in self._bundled:
            return self._bundled[model_id]
        with self._sessions() as s:
            row = s.get(UserModelRow, model_id)
            if row is not None:
                return _row_to_spec(row, self._keys.load(row.id, row.api_key))
        adapter = self.adapters.get(model_id) if is_adapter_name(model_id) else None
        if adapter is not None:
            return self._adapter_spec(adapter)
        source, _, name = model_id.partition(":")
        if name and source in self._sources:
            return self._sources[source].spec(self._settings, name)
        known = ", ".join(m.id for m in self.bundled() + self.user_models() + self.adapter_models())
        live = ", ".join(f"{n}:NAME" for n in sorted(self._sources))
        raise ModelNotFound(f"unknown model {model_id!r}; known models: {known} (live models as {live})")

    # ---- the gate before use ------------------------------------------------------------------------------------
    def prepare(self, spec: ModelSpec, progress: Progress | None = None) -> Path:
        """Return a local file that is whole, GGUF and matches its pin; install bundled models on first use."""
        if spec.adapter is not None:
            return self._prepare_adapter(spec, progress)
        return self._prepare_file(spec, progress)[0]

    def _prepare_file(self, spec: ModelSpec, progress: Progress | None = None) -> tuple[Path, GGUFHeader]:
        """`prepare` for a model's own file, with the header it checked (read once per change of the file)."""
        if spec.backend not in LOCAL_BACKENDS or spec.path is None:
            raise ModelError(f"model {spec.id!r} is served by {spec.backend}; it has no local file")
        installed: GGUFHeader | None = None
        if spec.bundled and not spec.path.exists():
            log.info("installing bundled model %s into %s", spec.id, spec.path)
            install_bundled(spec, progress)
            installed = check_gguf(spec.path, spec.id)
            self._remember(spec.path, spec.sha256 or "", installed)
        if not spec.path.exists():
            raise ModelIntegrityError(f"model {spec.id!r}: file {spec.path} is missing")
        stat = spec.path.stat()
        stamp = (f"{spec.path}|{spec.sha256 or ''}", stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
        known = self._prepared.get(stamp)
        if known is not None:
            return spec.path, known
        header = installed or check_gguf(spec.path, spec.id)
        if spec.sha256:
            self._check_unchanged(spec, header, progress)
        self._prepared[stamp] = header
        return spec.path, header

    def _prepare_adapter(self, spec: ModelSpec, progress: Progress | None) -> Path:
        """The base file through the usual gate, then the adapter file against its pin (a few MB: hashed once per
        change of the file, like the base)."""
        if spec.base_model is None or spec.adapter is None:
            raise ModelError(f"adapter {spec.id!r} names no base model")
        path, base_header = self._prepare_file(self.get(spec.base_model), progress)
        if not spec.adapter.is_file():
            raise ModelIntegrityError(f"adapter {spec.id!r}: file {spec.adapter} is missing")
        stat = spec.adapter.stat()
        stamp = (f"{spec.adapter}|{spec.adapter_sha256}", stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
        if stamp not in self._prepared:
            if sha256_file(spec.adapter) != spec.adapter_sha256:
                raise ModelIntegrityError(
                    f"adapter {spec.id!r}: {spec.adapter} does not match its SHA-256; remove it and tune or import it "
                    "again")
            header = check_gguf(spec.adapter, spec.id)
            check_adapter_fits(header, base_header, spec.id)
            self._prepared[stamp] = header
        return path

    def add_adapter(self, manifest: AdapterManifest, gguf_file: Path, *, move: bool = False) -> ModelSpec:
        """Register a tuned adapter under its own model id; its base must be installed here with the same bytes it
        was tuned on."""
        self._check_new_id(manifest.name)
        base = self.get(manifest.base_model)
        if base.adapter is not None or base.backend not in LOCAL_BACKENDS or base.path is None:
            raise ModelError(f"adapter {manifest.name!r}: base {manifest.base_model!r} is not a local GGUF model")
        if base.sha256 and base.sha256 != manifest.base_sha256:
            raise ModelError(f"adapter {manifest.name!r} was made for another file of {base.id!r} "
                             f"(SHA-256 {manifest.base_sha256[:12]}…, installed {base.sha256[:12]}…)")
        _, base_header = self._prepare_file(base)
        check_adapter_fits(check_gguf(gguf_file, manifest.name), base_header, manifest.name)
        self.adapters.save(manifest, gguf_file, move=move)
        return self.get(manifest.name)

    def verify(self, model_id: str, progress: Progress | None = None) -> ModelSpec:
        """Full check (header and hash, never the cached stamp); raise ModelIntegrityError if it fails."""
        spec = self.get(model_id)
        if spec.adapter is not None and spec.base_model is not None:
            self.verify(spec.base_model, progress)
            if not spec.adapter.is_file() or sha256_file(spec.adapter, progress) != spec.adapter_sha256:
                raise ModelIntegrityError(f"adapter {spec.id!r}: {spec.adapter} is missing or does not match its "
                                          "SHA-256")
            return spec
        if spec.backend != "llama_cpp" or spec.path is None:
            raise ModelError(f"model {spec.id!r} is remote ({spec.backend}); there is no file to verify")
        if spec.bundled and not spec.path.exists():
            return replace(spec, path=self.prepare(spec, progress))
        header = check_gguf(spec.path, spec.id)
        if spec.sha256:
            check_size_and_hash(spec.path, spec.id, spec.sha256, spec.size_bytes, progress)
            self._remember(spec.path, spec.sha256, header)
        return spec

    def _check_unchanged(self, spec: ModelSpec, header: GGUFHeader, progress: Progress | None) -> None:
        """Hash the file only when it may have changed since its last verification; an edit that kept its size and
        mtime (the way to slip past a size+mtime check) is a one-line "changed since it was verified" error."""
        if spec.path is None or spec.sha256 is None:
            return  # nothing pinned to compare with
        st = spec.path.stat()
        with self._sessions() as s:
            row = s.get(VerificationRow, str(spec.path))
        print_now = fingerprint(spec.path, header)
        disguised = bool(row and row.sha256 == spec.sha256 and row.size_bytes == st.st_size
                         and row.mtime_ns == st.st_mtime_ns)
        if disguised and row is not None:
            if row.fingerprint is not None and row.fingerprint != print_now:
                raise _file_changed(spec.path)
            if row.fingerprint == print_now and row.ctime_ns == st.st_ctime_ns and row.inode == st.st_ino:
                return  # the very file that was verified
        try:
            check_size_and_hash(spec.path, spec.id, spec.sha256, spec.size_bytes, progress)
        except ModelIntegrityError:
            # Same size and mtime as when it was verified, other bytes: someone put the times back.
            if disguised and row is not None and row.fingerprint is not None:
                raise _file_changed(spec.path) from None
            raise
        self._remember(spec.path, spec.sha256, header)

    def _remember(self, path: Path, sha256: str, header: GGUFHeader) -> None:
        st = path.stat()
        with self._sessions.begin() as s:
            s.merge(VerificationRow(path=str(path), size_bytes=st.st_size, mtime_ns=st.st_mtime_ns, sha256=sha256,
                                    ctime_ns=st.st_ctime_ns, inode=st.st_ino, fingerprint=fingerprint(path, header)))

    # ---- user models --------------------------------------------------------------------------------------------
    def _check_new_id(self, model_id: str) -> None:
        if not _ID_RE.match(model_id):
            raise ModelError(f"model id {model_id!r} is not valid: use letters, digits and . _ - : / (max 128)")
        source, colon, _ = model_id.partition(":")
        if model_id in self._bundled or (colon and source in self._sources):
            raise ModelError(f"model id {model_id!r} is reserved; pick another with --id")
        with self._sessions() as s:
            taken = s.get(UserModelRow, model_id) is not None
        if taken or (is_adapter_name(model_id) and self.adapters.get(model_id) is not None):
            raise ModelError(f"a model with id {model_id!r} already exists; pick another with --id")

    def add_gguf(self, path: Path, model_id: str | None = None, progress: Progress | None = None,
                 verified_sha256: str | None = None) -> ModelSpec:
        """Register a GGUF file; `verified_sha256`: its hash, just checked by the caller (a pull), so a 2 GB file is
        not hashed twice."""
        path = Path(path).expanduser().resolve()
        model_id = model_id or re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-").lower() or "model"
        self._check_new_id(model_id)
        header = check_gguf(path, model_id)
        sha = verified_sha256 or sha256_file(path, progress, f"hashing {path.name}")
        row = UserModelRow(
            id=model_id, backend="llama_cpp", path=str(path), sha256=sha, size_bytes=path.stat().st_size,
            context_length=header.context_length or 0, family=header.architecture or "",
        )
        with self._sessions.begin() as s:
            s.add(row)
        self._remember(path, sha, header)
        return self.get(model_id)

    def add_openai(self, endpoint: str, remote_model: str, api_key: str | None = None,
                   model_id: str | None = None) -> ModelSpec:
        if not endpoint.startswith(("http://", "https://")):
            raise ModelError(f"endpoint {endpoint!r} must be an http:// or https:// URL")
        if not remote_model.strip():
            raise ModelError("--remote-model must name the model on that server")
        model_id = model_id or f"openai:{remote_model}"
        self._check_new_id(model_id)
        reference = self._keys.save(model_id, api_key) if api_key else None
        with self._sessions.begin() as s:
            s.add(UserModelRow(id=model_id, backend="openai", endpoint=endpoint.rstrip("/"), remote_model=remote_model,
                               api_key=reference, context_length=0, family=""))
        return self.get(model_id)

    def _move_plain_keys(self) -> None:
        """Keys an older version wrote into the database in plain text go to the key store, and the database is
        scrubbed: secure_delete zeroes the old cell and a truncating checkpoint empties the WAL that held it."""
        with self._sessions() as s:
            rows = [(r.id, r.api_key) for r in s.scalars(select(UserModelRow).where(UserModelRow.api_key.is_not(None)))
                    if not is_reference(r.api_key)]
        if not rows:
            return
        with self._sessions.begin() as s:
            s.execute(text("PRAGMA secure_delete = ON"))
            for model_id, key in rows:
                row = s.get(UserModelRow, model_id)
                if row is not None and key:
                    row.api_key = self._keys.save(model_id, key)
        with self._sessions() as s:
            s.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        log.warning("moved %d remote model key(s) out of the database into the %s", len(rows),
                    "OS keyring" if self._keys.where == "keyring" else f"0600 file in {self._settings.home}")

    def remove(self, model_id: str) -> str:
        """Forget a user model (its file stays where it is, unless `models pull` fetched it); for a bundled model,
        delete the installed copy."""
        spec = self.get(model_id)
        if spec.bundled:
            if spec.path and spec.path.exists():
                spec.path.unlink()
                return f"deleted the installed copy of bundled model {model_id} (it is reinstalled on next use)"
            return f"bundled model {model_id} is not installed; nothing to remove"
        if spec.backend == "ollama":
            raise ModelError(f"{model_id} lives on the Ollama server; remove it there with `ollama rm`")
        if spec.adapter is not None:
            self.adapters.remove(model_id)
            return f"removed adapter {model_id} and deleted its files (its base {spec.base_model} stays)"
        with self._sessions.begin() as s:
            row = s.get(UserModelRow, model_id)
            if row is not None:
                self._keys.forget(model_id, row.api_key)
                s.delete(row)
        pulled = (self._settings.models_dir / PULLED_FOLDER).resolve()
        if spec.path is not None and spec.path.resolve().parent == pulled and spec.path.exists():
            spec.path.unlink()  # a file `models pull` fetched is ours; one the user added stays theirs
            return f"removed {model_id} and deleted its pulled file {spec.path}"
        return f"removed {model_id} (its file, if any, was left in place)"
