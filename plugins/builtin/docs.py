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
from edgemind.core.tools.registry import PluginContext, Tool, ToolError
from edgemind.core.tools.scopes import path_within
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


class DocsIndex:
    def __init__(self, folder: Path, embedding_function: Callable[[], Any]) -> None:
        self._folder = folder
        self._make_ef = embedding_function
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def _state_path(self) -> Path:
        return self._folder / "indexed.json"

    def _state(self) -> dict[str, Any]:
        try:
            return json.loads(self._state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"folders": [], "files": {}}

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
                state["files"] = {}
                self._save_state(state)
                coll = self._client.get_or_create_collection(COLLECTION, embedding_function=self._make_ef())
                for folder in state["folders"]:
                    try:
                        self._index_into(coll, Path(folder), state)
                    except ToolError as exc:  # a folder that is gone or unsafe now is left out, not fatal
                        log.warning("not re-indexing %s: %s", folder, exc)
        return self._client.get_or_create_collection(COLLECTION, embedding_function=self._make_ef())

    def index(self, folder: Path) -> dict[str, int]:
        with self._lock:
            coll = self._collection()
            state = self._state()
            if str(folder) not in state["folders"]:
                state["folders"].append(str(folder))
            counts = self._index_into(coll, folder, state)
            self._save_state(state)
            return counts

    def _index_into(self, coll: Any, folder: Path, state: dict[str, Any]) -> dict[str, int]:
        seen: set[str] = set()
        added, unchanged = 0, 0
        # the same confined walk, secret list and hard-link refusal as files_search: the index holds nothing
        # files_read would refuse
        for display, real, data in text_files(folder, MAX_FILE_BYTES, tuple(sorted(SUFFIXES))):
            if len(seen) >= MAX_FILES:
                break
            key = str(real)
            seen.add(key)
            sha = hashlib.sha256(data).hexdigest()
            if state["files"].get(key) == sha:
                unchanged += 1
                continue
            coll.delete(where={"path": key})
            try:
                chunks = chunk_text(data, real.suffix, display)
            except Exception as exc:  # an unreadable PDF is skipped, not fatal
                log.warning("skipping %s: %s", real, exc)
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
            added += 1
        removed = [k for k in state["files"] if path_within(Path(k), folder) and k not in seen]
        for key in removed:
            coll.delete(where={"path": key})
            del state["files"][key]
        return {"indexed": added, "unchanged": unchanged, "removed": len(removed)}

    def search(self, query: str, k: int = 4) -> list[dict[str, Any]]:
        with self._lock:
            coll = self._collection()
            if coll.count() == 0:
                return []
            found = coll.query(query_texts=[query], n_results=max(1, min(k, 20)))
        hits = []
        for text, meta, dist in zip(found["documents"][0], found["metadatas"][0], found["distances"][0]):
            chunk = Chunk(meta["file"], int(meta["start"]), int(meta["end"]), text, int(meta["page"]) or None)
            hits.append({"citation": chunk.citation, "score": round(1 - float(dist), 3), "text": text})
        return hits


def register(context: PluginContext | None = None) -> list[Tool]:
    if context is None:
        raise ToolError("the docs plugin needs a data folder")
    factory = context.services.get("embedding_function")
    if factory is None:
        raise ToolError("the docs plugin needs the embedding service")
    index = DocsIndex(context.data_dir / "docs", factory)

    @tool(plugin="docs", scopes=["fs.read:{folder}"], timeout_s=600, rate_limit_per_min=10)
    def docs_index(folder: str) -> dict[str, int]:
        """Index (or refresh) a folder of .md, .txt, .rst, .py and .pdf files so questions about them can be
        answered."""
        if not Path(folder).is_dir():
            raise ToolError(f"docs_index: not a folder: {folder}")
        return index.index(Path(folder))

    @tool(plugin="docs", scopes=["docs.read"], timeout_s=30, rate_limit_per_min=120)
    def docs_search(query: str, k: int = 4) -> list[dict[str, Any]]:
        """Search the user's indexed documents; each hit cites file and lines."""
        return index.search(query, k)

    return [docs_index, docs_search]
