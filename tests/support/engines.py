"""Settings for tests that run the real engine on the bundled default model in a data folder of their own."""

from __future__ import annotations

from pathlib import Path

from edgemind.core.settings import Settings, load_settings


def default_model_settings(home: Path, models_dir: Path, artifacts_dir: Path, **env: str) -> Settings:
    """The default model from the shared installed models, the shared artifacts, the audit key in a file (never the
    OS keyring of whoever runs the tests) and the answer cache off, so each ask is a real generation."""
    return load_settings(env={"EDGEMIND_HOME": str(home), "EDGEMIND_MODELS_DIR": str(models_dir),
                              "EDGEMIND_ARTIFACTS_DIR": str(artifacts_dir), "EDGEMIND_AUDIT_KEY_STORE": "file",
                              "EDGEMIND_CACHE": "0", **env})
