"""Backends and live model sources come from entry points, built-in and third-party alike; a broken one is a line."""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy.orm import sessionmaker

from edgemind.core.backends.model_pool import ModelPool
from edgemind.core.backends.registry import backend_factories, load_backends, model_sources
from edgemind.core.engine.facade import AskOptions, Engine
from edgemind.core.models.registry import ModelRegistry
from edgemind.core.settings import load_settings
from edgemind.core.storage.conversations import ConversationStore
from edgemind.core.storage.db import open_database

BUILT_IN = {"llama_cpp", "onnx_int4", "ollama", "openai"}

ACME = '''
from edgemind.plugins.sdk import BackendDone, ModelSpec


class EchoBackend:
    """Answers with the last user message, one word at a time."""

    name = "echo"

    def __init__(self, spec, **_):
        self._spec = spec

    def stream(self, messages, params, cancel):
        words = ("echo: " + messages[-1].content).split(" ")
        for i, word in enumerate(words):
            if cancel.cancelled:
                yield BackendDone("cancelled", i, 0)
                return
            yield word if i == 0 else " " + word
        yield BackendDone("stop", len(words), 0)

    def count_tokens(self, messages):
        return None

    def context_window(self):
        return None

    def take_load_ms(self):
        return 0.0


class AcmeModels:
    def names(self, settings):
        return ["parrot"]

    def spec(self, settings, name):
        return ModelSpec(id="acme:" + name, backend="echo", roles=("chat",), remote_model=name)


SOURCE = AcmeModels()
NOT_A_FACTORY = 42
'''


@pytest.fixture
def third_party(tmp_path: Path) -> Iterator[Path]:
    """An installed third-party package (a real dist-info on sys.path) declaring a backend and a model source,
    next to a broken one."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "acme_backend.py").write_text(ACME)
    (site / "broken_backend.py").write_text("raise ImportError('needs libacme.so')\n")
    entries = {
        "acme": "[edgemind.backends]\necho = acme_backend:EchoBackend\n\n"
                "[edgemind.model_sources]\nacme = acme_backend:SOURCE\n",
        "broken": "[edgemind.backends]\nbroken = broken_backend:Backend\nnumber = acme_backend:NOT_A_FACTORY\n\n"
                  "[edgemind.model_sources]\nbad = acme_backend:EchoBackend\n",
    }
    for name, text in entries.items():
        info = site / f"{name}_backend-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}-backend\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(text)
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    yield site
    sys.path.remove(str(site))
    for mod in ("acme_backend", "broken_backend"):
        sys.modules.pop(mod, None)


def test_built_in_backends_are_found_through_their_entry_points() -> None:
    loaded = load_backends()
    assert BUILT_IN <= set(loaded.found) and not loaded.problems
    assert loaded.found["llama_cpp"].__name__ == "LlamaCppBackend"


def test_a_third_party_backend_loads_and_broken_ones_are_one_line_each(
        third_party: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="edgemind.backends"):
        loaded = load_backends()
        sources = model_sources()
    assert BUILT_IN | {"echo"} <= set(loaded.found)
    assert "broken" not in loaded.found and "number" not in loaded.found
    assert len(loaded.problems) == 2
    broken, number = sorted(loaded.problems)
    assert "'broken'" in broken and "ImportError: needs libacme.so" in broken and "\n" not in broken
    assert "'number'" in number and "not callable" in number
    assert set(sources) == {"acme"}  # "bad" names a class without names()/spec() on it: skipped
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 3 and all("\n" not in w and "Traceback" not in w for w in warnings)
    assert any("model source 'bad'" in w for w in warnings)


def test_the_engine_answers_with_a_third_party_backend_and_lists_its_models(third_party: Path, tmp_path: Path) -> None:
    settings = load_settings(env={"EDGEMIND_HOME": str(tmp_path / "home"), "EDGEMIND_ROUTER": "0",
                                  "EDGEMIND_CACHE": "0", "EDGEMIND_AUDIT_KEY_STORE": "file"})
    sessions = sessionmaker(open_database(settings.db_path), expire_on_commit=False)
    registry = ModelRegistry(settings, sessions, sources=model_sources())
    assert "acme:parrot" in [m.id for m in registry.list_models()]
    engine = Engine(settings, registry, ConversationStore(sessions), ModelPool(max_loaded=1, idle_seconds=60))
    try:
        result = engine.ask("hello there", AskOptions(model="acme:parrot", store=False))
    finally:
        engine.close()
    assert (result.text, result.backend, result.model) == ("echo: hello there", "echo", "acme:parrot")
    assert "echo" in backend_factories()


def test_a_live_source_that_fails_lists_nothing_and_its_ids_are_reserved(tmp_path: Path) -> None:
    class Down:
        def names(self, settings):  # type: ignore[no-untyped-def]
            raise ConnectionError("no route")

        def spec(self, settings, name):  # type: ignore[no-untyped-def]
            raise AssertionError("not asked")

    settings = load_settings(env={"EDGEMIND_HOME": str(tmp_path / "home")})
    registry = ModelRegistry(settings, sessionmaker(open_database(settings.db_path)), sources={"down": Down()})
    assert registry.live_models() == []
    with pytest.raises(Exception, match="reserved"):
        registry.add_openai("http://127.0.0.1:9/v1", "m", model_id="down:m")
