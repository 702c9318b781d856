"""The environment for a child `edgemind` process that must see the same settings as its parent.

Settings are built once from file + environment; a child only re-reads the environment and its data folder's
settings.toml, so the parent passes the values that matter explicitly (a test's or the app's own data folder)."""

from __future__ import annotations

import os
from pathlib import Path

from ..settings import Settings


def child_env(settings: Settings, *, home: Path | None = None, audit_key_store: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEMIND_")}
    env.update({
        "EDGEMIND_HOME": str(home or settings.home), "EDGEMIND_MODELS_DIR": str(settings.models_dir),
        "EDGEMIND_ARTIFACTS_DIR": str(settings.artifacts_dir), "EDGEMIND_THREADS": str(settings.threads),
        "EDGEMIND_CONTEXT_LENGTH": str(settings.context_length), "EDGEMIND_DEFAULT_MODEL": settings.default_model,
        "EDGEMIND_ROUTER": str(settings.router_enabled).lower(),
        "EDGEMIND_SAFETY": str(settings.safety_enabled).lower(),
        "EDGEMIND_CACHE": str(settings.cache_enabled).lower(),
        "EDGEMIND_AUDIT_KEY_STORE": audit_key_store or settings.audit_key_store,
    })
    return env
