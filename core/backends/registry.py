"""Backends by name, and live model sources, found through entry points: built-in backends register exactly as a
third party's package does (pyproject `[project.entry-points."edgemind.backends"]`).

Core never imports a backend module by name. A broken entry point is one logged line naming it, never a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from ..models.sources import ModelSource
    from .base import Backend

log = logging.getLogger("edgemind.backends")

# name = "package.module:Factory", where Factory(spec: ModelSpec, **options) -> Backend. The engine passes every
# option it has (pool, prepare, threads, context_cap, timeout, data_dir, native, ...) by keyword, so a factory
# takes the ones it needs and `**_` for the rest.
ENTRY_POINT_GROUP = "edgemind.backends"
# name = "package.module:Source", a ModelSource (core/models/sources.py) whose models get ids "<name>:<model>".
MODEL_SOURCES_GROUP = "edgemind.model_sources"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Loaded(Generic[T]):
    """What one entry-point group gave: the objects by name, and one line for each entry point that failed."""

    found: dict[str, T] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _load_group(group: str, kind: str, check: Callable[[Any], str | None]) -> Loaded[Any]:
    loaded: Loaded[Any] = Loaded()
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            target = ep.load()
            reason = check(target)
        except Exception as exc:  # a broken third-party package must not take the app down
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if reason is None and ep.name in loaded.found:
            reason = "the name is already taken"
        if reason is None:
            loaded.found[ep.name] = target
        else:
            line = f"{kind} {ep.name!r} ({ep.value}) was not loaded: {reason}"
            loaded.problems.append(line)
            log.warning("%s", line)
    return loaded


def _check_factory(target: Any) -> str | None:
    return None if callable(target) else f"{type(target).__name__} is not callable (name a Backend class or factory)"


def _check_source(target: Any) -> str | None:
    missing = [m for m in ("names", "spec") if not callable(getattr(target, m, None))]
    return f"{type(target).__name__} lacks {' and '.join(missing)}() (see ModelSource)" if missing else None


def load_backends(group: str = ENTRY_POINT_GROUP) -> Loaded[Callable[..., Backend]]:
    return _load_group(group, "backend", _check_factory)


def backend_factories() -> dict[str, Callable[..., Backend]]:
    """Every backend factory the installed packages declare, by backend name (the `backend` of a ModelSpec)."""
    return load_backends().found


def model_sources(group: str = MODEL_SOURCES_GROUP) -> dict[str, ModelSource]:
    """Every live model source the installed packages declare, by the id prefix of its models."""
    return _load_group(group, "model source", _check_source).found
