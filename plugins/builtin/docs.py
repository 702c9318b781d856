"""Index a folder of documents (.md, .txt, .py, .pdf) into chromadb and search it, citing file and lines.

chromadb is a derived index: the list of indexed folders (a JSON file beside it) is the truth, so a lost or
damaged index is rebuilt from the files themselves. Indexed text is untrusted: it is quoted, never obeyed.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgemind.core.data_folder import private_folder, write_private
from edgemind.core.events import Citation
from edgemind.core.settings import Settings
from edgemind.core.tools.citations import Sourced
from edgemind.core.tools.registry import PluginContext, Tool, ToolError
from edgemind.core.tools.scopes import path_within
from edgemind.core.tools.session import plugin_context
from edgemind.plugins.builtin.files import text_files
from edgemind.plugins.sdk import tool

log = logging.getLogger("edgemind.plugins.docs")

SUFFIXES = {".md", ".txt", ".py", ".pdf", ".rst"}
CHUNK_LINES = 30
OVERLAP_LINES = 5
MAX_FILE_BYTES = 5_000_000
MAX_FILES = 2_000
COLLECTION = "docs"


@dataclass(frozen=True, slots=True)
class Chunk:
    file: str
    start_line: int
    end_line: int
    text: str
    page: int | None = None

    @property
    def citation(self) -> str:
        where = f"p.{self.page} " if self.page else ""
        return f"{self.file}:{where}{self.start_line}-{self.end_line}"


def _pages(data: bytes, suffix: str) -> Iterator[tuple[int | None, str]]:
    if suffix.lower() == ".pdf":
        from pypdf import PdfReader

        for number, page in enumerate(PdfReader(io.BytesIO(data)).pages, start=1):
            yield number, page.extract_text() or ""
    else:
        if b"\x00" in data[:8192]:
            return
        yield None, data.decode("utf-8", errors="replace")


def chunk_text(data: bytes, suffix: str, display: str) -> list[Chunk]:
    """Overlapping windows of lines, so an answer can cite the lines it used."""
    chunks: list[Chunk] = []
    for page, text in _pages(data, suffix):
        lines = text.splitlines()
        step = CHUNK_LINES - OVERLAP_LINES
        for start in range(0, max(len(lines), 1), step):
            window = lines[start:start + CHUNK_LINES]
            body = "\n".join(window).strip()
            if body:
                chunks.append(Chunk(display, start + 1, start + len(window), body[:4000], page))
            if start + CHUNK_LINES >= len(lines):
                break
    return chunks


def _forget_chroma_system(path: Path) -> None:
    """chromadb keeps one System per folder for the life of the process (even a broken one); drop it, or a
    client opened again on the rebuilt folder is handed the damaged one back."""
    from chromadb.api.shared_system_client import SharedSystemClient

    for key in {str(path), os.fspath(path.resolve())}:
        system = SharedSystemClient._identifier_to_system.pop(key, None)
        SharedSystemClient._identifier_to_refcount.pop(key, None)
        if system is not None:
            try:
                system.stop()
            except Exception:  # it is broken already; stopping is a courtesy
                pass


@dataclass(frozen=True, slots=True)
class FolderInfo:
    """One indexed folder as the Documents page lists it."""

    path: str
    files: int
    chunks: int
    indexed_at: float | None  # seconds since the epoch; None: never finished


@dataclass(frozen=True, slots=True)
class IndexProgress:
    """Sent after each file: `done` of `total` (total counts the candidate files found before reading any)."""

    folder: str
    done: int
    total: int
    current: str
    error: str | None = None  # one line when this file was left out (unreadable, too large, a broken PDF)


@dataclass(frozen=True, slots=True)
class IndexReport:
    folder: str
    indexed: int
    unchanged: int
    removed: int
    errors: tuple[str, ...] = ()
    cancelled: bool = False

    def counts(self) -> dict[str, int]:
        return {"indexed": self.indexed, "unchanged": self.unchanged, "removed": self.removed}


Snapshot = dict[str, list[int]]  # real path -> [mtime_ns, size]: what a poll compares to see a folder changed

# One lock per index folder for the process: the docs tool and the Documents page each hold a DocsIndex over the
# same files (as chromadb shares one System per folder), and the JSON state must not be written by both at once.
_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(folder: Path) -> threading.RLock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(os.fspath(folder), threading.RLock())


def snapshot(folder: Path) -> Snapshot:
    """Size and modification time of every candidate file under `folder` (hidden folders and other suffixes left
    out, as the index leaves them), read from the folder listings alone: cheap enough to poll. Only a change
    detector: a secret file is in it (the secret list's patterns cost most of a poll), and a change to one starts
    an indexing pass that still reads nothing the secret list forbids."""
    found: Snapshot = {}
    pending = [os.fspath(folder)]
    while pending and len(found) < MAX_FILES:
        top = pending.pop()
        try:
            entries = sorted(os.scandir(top), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif os.path.splitext(entry.name)[1].lower() in SUFFIXES and entry.is_file():
                    st = entry.stat()
                    found[entry.path] = [st.st_mtime_ns, st.st_size]
            except OSError:
                continue
    return found


class DocsIndex:
    def __init__(self, folder: Path, embedding_function: Callable[[], Any]) -> None:
        self._folder = folder
        self._make_ef = embedding_function
        self._client: Any = None
        self._lock = _lock_for(folder)

    @classmethod
    def of(cls, context: PluginContext) -> DocsIndex:
        """The index under a plugin context's data folder (the docs tool's and the Documents page's are one)."""
        factory = context.services.get("embedding_function")
        if factory is None:
            raise ToolError("the docs plugin needs the embedding service")
        return cls(context.data_dir / "docs", factory)

    @property
    def _state_path(self) -> Path:
        return self._folder / "indexed.json"

    def _state(self) -> dict[str, Any]:
        try:
            state = json.loads(self._state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = {}
        state = state if isinstance(state, dict) else {}
        for key, empty in (("folders", []), ("files", {}), ("chunks", {}), ("indexed_at", {}), ("stats", {})):
            if not isinstance(state.get(key), type(empty)):
                state[key] = empty
        return state

    def _save_state(self, state: dict[str, Any]) -> None:
        private_folder(self._folder)
        write_private(self._state_path, json.dumps(state, indent=1))

    def _collection(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        if self._client is None:
            path = private_folder(self._folder) / "chroma"  # chromadb's own files: inside a 0700 folder
            try:
                self._client = chromadb.PersistentClient(str(path), settings=ChromaSettings(anonymized_telemetry=False))
                self._client.get_or_create_collection(COLLECTION, embedding_function=self._make_ef())
            except Exception as exc:  # damaged index: set it aside and rebuild from the files
                log.warning("docs index at %s is damaged (%s); rebuilding it", path, exc)
                self._client = None
                _forget_chroma_system(path)
                shutil.move(str(path), str(path.with_name(f"chroma.damaged-{int(time.time())}")))
                self._client = chromadb.PersistentClient(str(path), settings=ChromaSettings(anonymized_telemetry=False))
                state = self._state()
                state["files"], state["chunks"], state["stats"] = {}, {}, {}
                self._save_state(state)
                coll = self._client.get_or_create_collection(COLLECTION, embedding_function=self._make_ef())
                for folder in state["folders"]:
                    try:
                        self._index_into(coll, Path(folder), state)
                    except ToolError as exc:  # a folder that is gone or unsafe now is left out, not fatal
                        log.warning("not re-indexing %s: %s", folder, exc)
                self._save_state(state)
        return self._client.get_or_create_collection(COLLECTION, embedding_function=self._make_ef())

    def index(self, folder: Path, progress: Callable[[IndexProgress], None] | None = None,
              cancelled: Callable[[], bool] | None = None) -> IndexReport:
        """Add `folder` to the list and bring its chunks up to date: only new or changed files are read into the
        index again, deleted ones leave it. `cancelled` is asked between files; what was indexed by then stays."""
        with self._lock:
            coll = self._collection()
            state = self._state()
            if str(folder) not in state["folders"]:
                state["folders"].append(str(folder))
            try:
                return self._index_into(coll, folder, state, progress, cancelled)
            finally:
                self._save_state(state)

    def _index_into(self, coll: Any, folder: Path, state: dict[str, Any],
                    progress: Callable[[IndexProgress], None] | None = None,
                    cancelled: Callable[[], bool] | None = None) -> IndexReport:
        seen: set[str] = set()
        added, unchanged, done = 0, 0, 0
        errors: list[str] = []
        stats = snapshot(folder)  # taken before reading: a change made meanwhile is seen by the next poll
        total = len(stats)

        def tell(current: str, error: str | None = None) -> None:
            if progress is not None:
                progress(IndexProgress(str(folder), done, max(total, done), current, error))

        def skipped(name: str, why: str) -> None:
            nonlocal done
            done += 1
            errors.append(f"{name}: {why}")
            tell(name, errors[-1])

        # the same confined walk, secret list and hard-link refusal as files_search: the index holds nothing
        # files_read would refuse
        for display, real, data in text_files(folder, MAX_FILE_BYTES, tuple(sorted(SUFFIXES)), skipped):
            if cancelled is not None and cancelled():
                return IndexReport(str(folder), added, unchanged, 0, tuple(errors), cancelled=True)
            if len(seen) >= MAX_FILES:
                break
            key = str(real)
            seen.add(key)
            done += 1
            sha = hashlib.sha256(data).hexdigest()
            if state["files"].get(key) == sha:
                unchanged += 1
                tell(display)
                continue
            coll.delete(where={"path": key})
            state["files"].pop(key, None)
            state["chunks"].pop(key, None)
            try:
                chunks = chunk_text(data, real.suffix, display)
            except Exception as exc:  # an unreadable PDF is one line, and the rest goes on
                errors.append(f"{display}: cannot read it ({type(exc).__name__}: {' '.join(str(exc).split())[:160]})")
                log.warning("skipping %s: %s", real, exc)
                tell(display, errors[-1])
                continue
            if chunks:
                # ids name the file as well as its content: two copies of one file are two sets of chunks,
                # and deleting one copy must not take the other's chunks with it
                ident = hashlib.sha256(f"{key}\n{sha}".encode()).hexdigest()[:24]
                coll.add(ids=[f"{ident}-{i}" for i in range(len(chunks))],
                         documents=[c.text for c in chunks],
                         metadatas=[{"path": key, "folder": str(folder), "file": c.file, "start": c.start_line,
                                     "end": c.end_line, "page": c.page or 0} for c in chunks])
            state["files"][key] = sha
            state["chunks"][key] = len(chunks)
            added += 1
            tell(display)
        removed = [k for k in state["files"] if path_within(Path(k), folder) and k not in seen]
        for key in removed:
            coll.delete(where={"path": key})
            del state["files"][key]
            state["chunks"].pop(key, None)
        state["stats"][str(folder)] = stats
        state["indexed_at"][str(folder)] = time.time()
        return IndexReport(str(folder), added, unchanged, len(removed), tuple(errors))

    # ---- the folder list --------------------------------------------------------------------------------------
    def folders(self) -> list[FolderInfo]:
        """The indexed folders with their file and chunk counts and when each was last indexed in full."""
        with self._lock:
            state = self._state()
        out = []
        for folder in state["folders"]:
            keys = [k for k in state["files"] if path_within(Path(k), Path(folder))]
            chunks = sum(int(state["chunks"].get(k, 0)) for k in keys)
            at = state["indexed_at"].get(folder)
            out.append(FolderInfo(folder, len(keys), chunks, float(at) if isinstance(at, (int, float)) else None))
        return out

    def remove(self, folder: Path | str) -> int:
        """Take a folder out of the index (its chunks and its place in the list); its files are never touched.
        Returns how many files left the index. A file another listed folder also holds stays."""
        name = str(folder)
        with self._lock:
            state = self._state()
            if name not in state["folders"]:
                raise ToolError(f"not an indexed folder: {name}")
            coll = self._collection()
            state["folders"].remove(name)
            others = [Path(f) for f in state["folders"]]
            gone = [k for k in state["files"] if path_within(Path(k), Path(name))
                    and not any(path_within(Path(k), o) for o in others)]
            for key in gone:
                coll.delete(where={"path": key})
                del state["files"][key]
                state["chunks"].pop(key, None)
            state["stats"].pop(name, None)
            state["indexed_at"].pop(name, None)
            self._save_state(state)
            return len(gone)

    def stale(self) -> list[str]:
        """The listed folders whose files changed (added, edited, removed) since they were last indexed: a poll
        (stat only, nothing read) compared with the snapshot the last indexing took."""
        with self._lock:
            state = self._state()
        return [f for f in state["folders"] if state["stats"].get(f) != snapshot(Path(f))]

    def search(self, query: str, k: int = 4) -> Sourced:
        """The k nearest chunks, each citing file and lines; the model sees the hits, the shell the Citations (the
        real files, from the index itself) to link them."""
        with self._lock:
            coll = self._collection()
            if coll.count() == 0:
                return Sourced([], ())
            found = coll.query(query_texts=[query], n_results=max(1, min(k, 20)))
        hits, sources = [], []
        for text, meta, dist in zip(found["documents"][0], found["metadatas"][0], found["distances"][0]):
            chunk = Chunk(meta["file"], int(meta["start"]), int(meta["end"]), text, int(meta["page"]) or None)
            hits.append({"citation": chunk.citation, "score": round(1 - float(dist), 3), "text": text})
            sources.append(Citation(str(meta["path"]), chunk.start_line, chunk.end_line, chunk.citation, chunk.page))
        return Sourced(hits, tuple(sources))


def library(settings: Settings) -> DocsIndex:
    """The docs index of this data folder, for a shell that lists, indexes and removes folders itself (the
    Documents page); the same files and lock as the docs tools' own."""
    return DocsIndex.of(plugin_context(settings))


def register(context: PluginContext | None = None) -> list[Tool]:
    if context is None:
        raise ToolError("the docs plugin needs a data folder")
    index = DocsIndex.of(context)

    @tool(plugin="docs", scopes=["fs.read:{folder}"], timeout_s=600, rate_limit_per_min=10)
    def docs_index(folder: str) -> dict[str, int]:
        """Index (or refresh) a folder of .md, .txt, .rst, .py and .pdf files so questions about them can be
        answered."""
        if not Path(folder).is_dir():
            raise ToolError(f"docs_index: not a folder: {folder}")
        return index.index(Path(folder)).counts()

    @tool(plugin="docs", scopes=["docs.read"], timeout_s=30, rate_limit_per_min=120)
    def docs_search(query: str, k: int = 4) -> Sourced:
        """Search the user's indexed documents; each hit cites file and lines."""
        return index.search(query, k)

    return [docs_index, docs_search]
