"""Personalization packs: one signed file with a user's LoRA adapter(s) and what they were built on, to share.

A pack holds the adapters, a manifest (base model id and SHA-256, each member's SHA-256 and size, figures about the
data and the evaluation but never the data) and an Ed25519 signature of the manifest. Import writes nothing unless
every check passed; a refusal is one line (PackError).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgemind.kernels.gguf_header import GGUFFormatError, read_gguf_header

from ..errors import EdgeMindError, ModelNotFound, PackError
from ..models.adapters import AdapterManifest, AdapterStore
from ..models.manifest import ModelSpec
from ..models.registry import ModelRegistry
from .pack_archive import MAX_MEMBER_BYTES, Member, check_members, extract, open_archive, read_small, write_archive
from .pack_signing import ALGORITHM, Signer, TrustList, fingerprint, public_key_from, verify

log = logging.getLogger(__name__)

FORMAT = "edgemind-pack"
FORMAT_VERSION = 1
MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"
SUFFIX = ".empack"
# An adapter becomes a model id and a folder name: no separators, nothing a shell or a path would read specially.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
# Text from a pack is printed on the user's terminal: only plain characters, so no escape sequence gets through.
_MODEL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")
_DATE_RE = re.compile(r"^[0-9][0-9T:+. Z-]{0,39}$")
_KINDS = ("tune", "distill", "pack")
_FIGURE_DEPTH = 4


@dataclass(frozen=True, slots=True)
class PackAdapter:
    """One adapter as the manifest describes it."""

    name: str
    file: str
    sha256: str
    size_bytes: int
    rank: int
    alpha: float
    kind: str
    created: str
    data_summary: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PackManifest:
    """The signed description of a pack."""

    created: str
    base_model: str
    base_sha256: str
    signer_key: bytes
    adapters: tuple[PackAdapter, ...]
    format_version: int = FORMAT_VERSION

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.signer_key)

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "format_version": self.format_version, "created": self.created,
            "base_model": {"id": self.base_model, "sha256": self.base_sha256},
            "signer": {"algorithm": ALGORITHM, "public_key": base64.b64encode(self.signer_key).decode(),
                       "fingerprint": self.fingerprint},
            "adapters": [{"name": a.name, "file": a.file, "sha256": a.sha256, "size_bytes": a.size_bytes,
                          "rank": a.rank, "alpha": a.alpha, "kind": a.kind, "created": a.created,
                          "data_summary": a.data_summary, "evaluation": a.evaluation} for a in self.adapters],
        }


@dataclass(frozen=True, slots=True)
class PackInfo:
    """What `pack inspect` shows: the verified manifest, and whether this user trusts its signer."""

    manifest: PackManifest
    trusted: bool
    own: bool

    def as_dict(self) -> dict[str, Any]:
        return {**self.manifest.as_dict(), "trusted": self.trusted, "own": self.own, "verified": True}


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import added."""

    names: tuple[str, ...]
    base_model: str
    fingerprint: str
    newly_trusted: bool

    def as_dict(self) -> dict[str, Any]:
        return {"imported": list(self.names), "base_model": self.base_model, "signer": self.fingerprint,
                "newly_trusted": self.newly_trusted}


# ---- export ------------------------------------------------------------------------------------------------------
def export_pack(store: AdapterStore, names: Sequence[str], out: Path, signer: Signer, *,
                overwrite: bool = False) -> PackManifest:
    """Write the named adapters of `store` as one signed pack at `out`. The adapters must share one base model and
    still match the SHA-256 they were saved with; data summaries and evaluations keep their figures only."""
    if not names:
        raise PackError("name at least one adapter to export")
    if out.exists() and not overwrite:
        raise PackError(f"{out} already exists; choose another file with -o or pass --force")
    adapters: list[PackAdapter] = []
    files: dict[str, Path] = {}
    bases: set[tuple[str, str]] = set()
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for name in dict.fromkeys(names):
        record = _stored(store, name)
        path = store.path(name)
        sha, size = _sha256(path), path.stat().st_size
        if sha != record.adapter_sha256:
            raise PackError(f"adapter {name!r} changed since it was saved (SHA-256 {sha[:16]}…, expected "
                            f"{record.adapter_sha256[:16]}…); it is not exported")
        member = f"adapters/{name}/adapter.gguf"
        files[member] = path
        bases.add((record.base_model, record.base_sha256))
        adapters.append(PackAdapter(
            name=name, file=member, sha256=sha, size_bytes=size, rank=int(record.rank), alpha=float(record.alpha),
            kind=record.kind, created=record.created if _DATE_RE.match(record.created) else now,
            data_summary=figures_only(record.data_summary),
            evaluation=figures_only(record.evaluation)))
    if len(bases) > 1:
        raise PackError("the adapters were tuned on different base models; export them as separate packs")
    (base_model, base_sha256), = bases
    manifest = PackManifest(created=now, base_model=base_model,
                            base_sha256=base_sha256, signer_key=signer.public_key, adapters=tuple(adapters))
    body = (json.dumps(manifest.as_dict(), indent=1, sort_keys=True) + "\n").encode("utf-8")
    write_archive(out, {MANIFEST: body, SIGNATURE: signer.sign(body)}, files)
    return manifest


def _stored(store: AdapterStore, name: str) -> AdapterManifest:
    if not _NAME_RE.match(name):
        raise PackError(f"{name[:70]!r} is not an adapter name (letters, digits, . _ -; max 64)")
    record = store.get(name)
    if record is None:
        known = ", ".join(store.names()) or "none yet (make one with `edgemind tune`)"
        raise PackError(f"no adapter named {name!r}; adapters here: {known}")
    return record


def figures_only(value: Any, depth: int = 0) -> dict[str, Any]:
    """The numbers of a summary (counts, losses, pass rates), nested up to a few levels; every string is dropped, as
    a string could be a piece of the user's data (a prompt, a file name)."""
    kept: dict[str, Any] = {}
    if not isinstance(value, dict) or depth >= _FIGURE_DEPTH:
        return kept
    for key, item in value.items():
        if not isinstance(key, str) or len(key) > 64:
            continue
        if isinstance(item, bool) or (isinstance(item, (int, float)) and math.isfinite(item)):
            kept[key] = item
        elif isinstance(item, dict):
            nested = figures_only(item, depth + 1)
            if nested:
                kept[key] = nested
        elif isinstance(item, list) and item and len(item) <= 64 and all(
                isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in item):
            kept[key] = list(item)
    return kept


# ---- reading a pack ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Opened:
    manifest: PackManifest
    files: dict[str, Path]  # adapter name -> extracted, verified file


def _open(path: Path, workdir: Path) -> _Opened:
    """Check everything a pack's bytes can tell (archive safety, format version, signature, every member's size and
    SHA-256, adapter headers), extracting the adapters into workdir."""
    with open_archive(path) as archive:
        members = check_members(archive)
        for required in (MANIFEST, SIGNATURE):
            if required not in members:
                raise PackError(f"{path.name} is not a pack: it has no {required}")
        body = read_small(archive, members[MANIFEST])
        signature = read_small(archive, members[SIGNATURE])
        data = _parse_json(body)
        _check_format(data)
        manifest = _manifest_from(data)
        verify(manifest.signer_key, signature, body)
        expected = {MANIFEST, SIGNATURE} | {a.file for a in manifest.adapters}
        extra = sorted(set(members) - expected)
        if extra:
            raise PackError(f"pack refused: member {extra[0]!r} is not listed in the signed manifest")
        files: dict[str, Path] = {}
        for number, adapter in enumerate(manifest.adapters):
            member = members.get(adapter.file)
            if member is None:
                raise PackError(f"pack refused: {adapter.file!r} is listed in the manifest but missing (damaged)")
            files[adapter.name] = _extract_checked(archive, member, adapter, workdir / f"{number}.gguf")
    return _Opened(manifest, files)


def _extract_checked(archive: Any, member: Member, adapter: PackAdapter, dest: Path) -> Path:
    if member.size != adapter.size_bytes:
        raise PackError(f"pack refused: {member.name} holds {member.size:,} bytes, the manifest says "
                        f"{adapter.size_bytes:,} (tampered or damaged)")
    sha = extract(archive, member, dest, adapter.size_bytes)
    if sha != adapter.sha256:
        raise PackError(f"pack refused: SHA-256 of {member.name} does not match the signed manifest (tampered)")
    try:
        header = read_gguf_header(dest)
    except GGUFFormatError as exc:
        raise PackError(f"pack refused: {member.name} is not a GGUF adapter ({exc})") from None
    meta = header.metadata
    if meta.get("general.type") != "adapter" or meta.get("adapter.type") != "lora":
        raise PackError(f"pack refused: {member.name} is a GGUF file but not a LoRA adapter")
    return dest


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise PackError("pack refused: its manifest is not JSON (damaged)") from None
    if not isinstance(data, dict):
        raise PackError("pack refused: its manifest is not a JSON object")
    return data


def _check_format(data: dict[str, Any]) -> None:
    if data.get("format") != FORMAT:
        raise PackError(f"not an EdgeMind pack (format {str(data.get('format'))[:40]!r})")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION
        raise PackError(f"pack format version {str(version)[:20]} is unknown (this EdgeMind reads version "
                        f"{FORMAT_VERSION}){'; update EdgeMind to import it' if newer else ''}")


def _field(data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise PackError(f"pack refused: manifest field {where}{key} is missing or of the wrong type")
    return value


def _manifest_from(data: dict[str, Any]) -> PackManifest:
    base = _field(data, "base_model", dict, "")
    signer = _field(data, "signer", dict, "")
    if signer.get("algorithm") != ALGORITHM:
        raise PackError(f"pack refused: unknown signature algorithm {str(signer.get('algorithm'))[:20]!r}")
    raw = _field(data, "adapters", list, "")
    if not raw or len(raw) > 16:
        raise PackError("pack refused: a pack holds 1 to 16 adapters")
    adapters = tuple(_adapter_from(entry, n) for n, entry in enumerate(raw))
    names = [a.name for a in adapters]
    files = [a.file for a in adapters]
    if len(set(names)) != len(names) or len(set(files)) != len(files):
        raise PackError("pack refused: two adapters share a name or a file")
    sha = _field(base, "sha256", str, "base_model.")
    if not _SHA_RE.match(sha):
        raise PackError("pack refused: the base model's SHA-256 is not 64 hex digits")
    base_id = _field(base, "id", str, "base_model.")
    if not _MODEL_ID_RE.match(base_id):
        raise PackError("pack refused: the base model id is not a model id (letters, digits, . _ - : /)")
    return PackManifest(
        created=_date(data, ""), base_model=base_id, base_sha256=sha,
        signer_key=public_key_from(signer.get("public_key")), adapters=adapters)


def _date(data: dict[str, Any], where: str) -> str:
    created = _field(data, "created", str, where)
    if not _DATE_RE.match(created):
        raise PackError(f"pack refused: {where}created is not a date")
    return str(created)


def _adapter_from(entry: Any, number: int) -> PackAdapter:
    where = f"adapters[{number}]."
    if not isinstance(entry, dict):
        raise PackError(f"pack refused: manifest entry {where[:-1]} is not an object")
    name = _field(entry, "name", str, where)
    if not _NAME_RE.match(name):
        raise PackError(f"pack refused: adapter name {name[:70]!r} is not valid (letters, digits, . _ -; max 64)")
    sha = _field(entry, "sha256", str, where)
    size = _field(entry, "size_bytes", int, where)
    if not _SHA_RE.match(sha) or not 0 < size <= MAX_MEMBER_BYTES:
        raise PackError(f"pack refused: {where}sha256 or size_bytes is not valid")
    rank = _field(entry, "rank", int, where)
    alpha = _field(entry, "alpha", (int, float), where)
    if not 0 < rank <= 4096 or not 0 < alpha <= 1e6:
        raise PackError(f"pack refused: {where}rank or alpha is out of range")
    kind = _field(entry, "kind", str, where)
    if kind not in _KINDS:
        raise PackError(f"pack refused: {where}kind is not one of {', '.join(_KINDS)}")
    return PackAdapter(
        name=name, file=_field(entry, "file", str, where), sha256=sha, size_bytes=size, rank=rank,
        alpha=float(alpha), kind=kind, created=_date(entry, where),
        data_summary=figures_only(entry.get("data_summary")), evaluation=figures_only(entry.get("evaluation")))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            while chunk := f.read(1024 * 1024):
                digest.update(chunk)
    except OSError as exc:
        raise PackError(f"cannot read {path}: {exc.strerror or exc}") from None
    return digest.hexdigest()


# ---- inspect and import ------------------------------------------------------------------------------------------
def inspect_pack(path: Path, trust: TrustList, me: Signer | None = None) -> PackInfo:
    """Verify a pack completely (in a temporary folder that is then deleted) and say who signed it."""
    with tempfile.TemporaryDirectory(prefix="edgemind-pack-") as tmp:
        opened = _open(path, Path(tmp))
    fp = opened.manifest.fingerprint
    own = me is not None and me.fingerprint == fp
    return PackInfo(opened.manifest, trusted=own or trust.trusted(fp), own=own)


def import_pack(path: Path, registry: ModelRegistry, trust: TrustList, me: Signer | None = None, *,
                rename: str | None = None, trust_signer: bool = False) -> Imported:
    """Add a pack's adapters as models. Refused (PackError, nothing written) unless the pack is whole and untampered,
    its signer is trusted (or `trust_signer`), its base model is installed with the same SHA-256, and its names are
    free (`rename` gives a one-adapter pack another)."""
    with tempfile.TemporaryDirectory(prefix="edgemind-pack-") as tmp:
        opened = _open(path, Path(tmp))
        manifest = opened.manifest
        fp = manifest.fingerprint
        own = me is not None and me.fingerprint == fp
        if not (own or trust.trusted(fp) or trust_signer):
            raise PackError(f"pack signed by an unknown key {fp}; if you know its sender and they confirm this "
                            "fingerprint, import it with --trust")
        base = _installed_base(manifest, registry)
        names = _new_names(manifest, rename, registry)
        saved: list[str] = []
        try:
            for adapter, name in zip(manifest.adapters, names, strict=True):
                registry.add_adapter(AdapterManifest(
                    name=name, base_model=base.id, base_sha256=manifest.base_sha256, adapter_sha256=adapter.sha256,
                    rank=adapter.rank, alpha=adapter.alpha, kind="pack",
                    data_summary={**adapter.data_summary, "pack_signer": fp},
                    evaluation=adapter.evaluation), opened.files[adapter.name], move=True)
                saved.append(name)
        except BaseException:
            for name in saved:  # all or nothing
                registry.adapters.remove(name)
            raise
    newly = trust_signer and not own and not trust.trusted(fp)
    if newly:
        trust.add(fp, f"trusted on import of {path.name}")
    return Imported(tuple(names), base.id, fp, newly)


def _installed_base(manifest: PackManifest, models: ModelRegistry) -> ModelSpec:
    """The installed model the pack was built on: its id with the same SHA-256, else any local model with it."""
    wanted = manifest.base_sha256
    try:
        spec: ModelSpec | None = models.get(manifest.base_model)
    except ModelNotFound:
        spec = None
    if spec is not None and spec.adapter is None:
        if spec.sha256 != wanted:
            theirs = f"{spec.sha256[:16]}…" if spec.sha256 else "not pinned"
            raise PackError(f"pack refused: built for base model {manifest.base_model!r} with SHA-256 {wanted[:16]}…, "
                            f"but your {spec.id!r} is {theirs}")
        return spec
    for candidate in models.list_models(include_ollama=False):
        if candidate.sha256 == wanted and candidate.adapter is None:
            return candidate
    raise PackError(f"pack refused: built for base model {manifest.base_model!r} (SHA-256 {wanted[:16]}…), which is "
                    "not installed here; add that exact model first")


def _new_names(manifest: PackManifest, rename: str | None, models: ModelRegistry) -> list[str]:
    names = [a.name for a in manifest.adapters]
    if rename is not None:
        if len(names) != 1:
            raise PackError(f"--name renames a pack of one adapter; this pack holds {len(names)}")
        if not _NAME_RE.match(rename):
            raise PackError(f"name {rename[:70]!r} is not valid (letters, digits, . _ -; max 64)")
        names = [rename]
    for name in names:
        if _taken(name, models):
            raise PackError(f"a model named {name!r} already exists; import under another name with --name NEW")
    return names


def _taken(name: str, models: ModelRegistry) -> bool:
    if name in models.adapters.names():  # listed even when its base is gone, and so not a model now
        return True
    try:
        models.get(name)
    except ModelNotFound:
        return False
    except EdgeMindError as exc:  # a name the registry cannot resolve for another reason is not free either
        log.debug("model name %s not usable: %s", name, exc)
        return True
    return True
