"""A real `edgemind serve` application on a free loopback port, over a real engine with the tiny model."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from edgemind.core.engine.facade import Engine
from edgemind.core.settings import load_settings
from tests.conftest import TINY
from tests.support.api_server import ApiServer

API_KEY = "test-key-0123456789abcdef"


@pytest.fixture(scope="module")
def module_engine(tmp_path_factory: pytest.TempPathFactory, models_dir: Path,
                  artifacts_dir: Path) -> Iterator[Engine]:
    """One engine per test module (each engine loads the router; the tests share it): cache off, so every
    request really generates."""
    home = tmp_path_factory.mktemp("api-home")
    settings = load_settings(env={"EDGEMIND_HOME": str(home), "EDGEMIND_MODELS_DIR": str(models_dir),
                                  "EDGEMIND_ARTIFACTS_DIR": str(artifacts_dir), "EDGEMIND_DEFAULT_MODEL": TINY,
                                  "EDGEMIND_CACHE": "0", "EDGEMIND_SAFETY": "0"})  # as tests/conftest.py's env
    engine = Engine.create(settings)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def server(module_engine: Engine) -> Iterator[ApiServer]:
    with ApiServer(module_engine, api_key=API_KEY, rate_limit_per_minute=0) as srv:
        yield srv


@pytest.fixture
def make_server(module_engine: Engine) -> Iterator[Callable[..., ApiServer]]:
    """A server with its own limits, stopped after the test."""
    started: list[ApiServer] = []

    def make(**config: object) -> ApiServer:
        started.append(ApiServer(module_engine, api_key=API_KEY, **config).start())
        return started[-1]

    yield make
    for srv in started:
        srv.stop()
