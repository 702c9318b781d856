"""The environment for a child `edgemind` process that must see the same settings as its parent.

Settings are built once from file + environment; a child only re-reads the environment and its data folder's
settings.toml, so the parent passes the values that matter explicitly (a test's or the app's own data folder)."""

from __future__ import annotations

import os
from pathlib import Path

from ..settings import Settings, settings_environment

# what a child must agree on with its parent; the variable names come from the settings declaration
_PASSED = ("home", "models_dir", "artifacts_dir", "threads", "context_length", "default_model", "router_enabled",
           "safety_enabled", "cache_enabled", "audit_key_store")


def child_env(settings: Settings, *, home: Path | None = None, audit_key_store: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEMIND_")}
    env.update(settings_environment(settings, _PASSED))
    if home is not None:
        env["EDGEMIND_HOME"] = str(home)
    if audit_key_store:
        env["EDGEMIND_AUDIT_KEY_STORE"] = audit_key_store
    return env
