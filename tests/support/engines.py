"""Settings for tests that run the real engine on the bundled default model in a data folder of their own."""

from __future__ import annotations

import os
from pathlib import Path

from edgemind.core.hardware import physical_cores
from edgemind.core.settings import Settings, load_settings


def worker_threads() -> int:
    """The cores this test process may use: its share when pytest-xdist runs several workers side by side. Each
    llama.cpp context otherwise takes every core, and two workers then run twice as many busy threads as there are
    cores."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    return max(1, physical_cores() // max(1, workers))


def default_model_settings(home: Path, models_dir: Path, artifacts_dir: Path, **env: str) -> Settings:
    """The default model from the shared installed models, the shared artifacts, the audit key in a file (never the
    OS keyring of whoever runs the tests), the answer cache off, so each ask is a real generation, and the safety
    checks off as in tests/conftest.py's env (they are on by default; their tests turn them on: a checker that refused
    "tell me the code word in it" as intrusion would fail tests of the tool loop, not of the loop)."""
    return load_settings(env={"EDGEMIND_HOME": str(home), "EDGEMIND_MODELS_DIR": str(models_dir),
                              "EDGEMIND_ARTIFACTS_DIR": str(artifacts_dir), "EDGEMIND_AUDIT_KEY_STORE": "file",
                              "EDGEMIND_CACHE": "0", "EDGEMIND_SAFETY": "0",
                              "EDGEMIND_THREADS": str(worker_threads()), **env})
