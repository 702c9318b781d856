"""Which installed model is the strongest: the one a router policy's `model = "strongest"` means.

Strength is the parameter count, read from each GGUF file's own tensor table (names and catalogue labels round, and a
file you added yourself has neither). Only local GGUF models whose file is here count, and only those that fit in
half the computer's memory: a model the laptop cannot hold is never picked for it. A model must have more parameters
than the default model to be chosen; when the default's file is not installed yet there is nothing to compare with,
and the default answers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import psutil

from edgemind.kernels.gguf_header import GGUFFormatError, read_gguf_header

from .manifest import LOCAL_BACKENDS, ModelSpec

log = logging.getLogger(__name__)


def _billions(parameters: int) -> str:
    return f"{parameters / 1e9:.2f}B" if parameters < 1e9 else f"{parameters / 1e9:.1f}B"


def _file_size(path: Path | None) -> int:
    """The file's size with one stat; 0 when there is no file (a stat that fails says so as well as exists() would)."""
    if path is None:
        return 0
    try:
        return path.stat().st_size
    except OSError:
        return 0


class StrongestModel:
    """`strongest()` -> (model id, why) | None, for the router (routing.decision.Strongest).

    `models` lists the installed models (the registry's bundled and user models), `default_id` names the default;
    both are read on every call, so a model pulled or removed while the app runs counts at once. Parameter counts are
    cached per file (path, size and modification time), so a call costs a directory listing, not a file read.
    """

    def __init__(self, models: Callable[[], list[ModelSpec]], default_id: Callable[[], str], *,
                 memory_bytes: int | None = None) -> None:
        self._models = models
        self._default_id = default_id
        self._memory = memory_bytes if memory_bytes is not None else psutil.virtual_memory().total
        self._counts: dict[tuple[Path, int, int], int | None] = {}
        self._lock = threading.Lock()

    def parameters(self, spec: ModelSpec) -> int | None:
        """The model's parameter count from its file; None when it has no local file or the file is unreadable."""
        if spec.backend not in LOCAL_BACKENDS or spec.path is None or spec.adapter is not None:
            return None
        try:
            stat = spec.path.stat()
        except OSError:
            return None
        key = (spec.path, stat.st_size, stat.st_mtime_ns)
        with self._lock:
            if key in self._counts:
                return self._counts[key]
        try:
            count: int | None = read_gguf_header(spec.path).parameter_count or None
        except (GGUFFormatError, OSError) as exc:
            log.debug("model %s not compared: %s", spec.id, exc)
            count = None
        with self._lock:
            self._counts[key] = count
        return count

    def fits(self, spec: ModelSpec) -> bool:
        """Whether the model's file (its catalogue size, else the file's own) fits in half the memory."""
        size = spec.size_bytes or _file_size(spec.path)
        return 0 < size <= self._memory // 2

    def __call__(self) -> tuple[str, str] | None:
        models = self._models()
        default_id = self._default_id()
        default = next((m for m in models if m.id == default_id), None)
        baseline = self.parameters(default) if default is not None else None
        if baseline is None:
            return None
        best: tuple[int, ModelSpec] | None = None
        for spec in models:
            if spec.id == default_id or "tiny" in spec.roles:
                continue
            count = self.parameters(spec)
            if count is not None and count > baseline and self.fits(spec) and (best is None or count > best[0]):
                best = (count, spec)
        if best is None:
            return None
        return best[1].id, f"{_billions(best[0])} parameters against the default's {_billions(baseline)}"
