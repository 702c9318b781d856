"""Math and code go to the strongest installed model when one is bigger than the default, and the route says which
and why. Here the tiny model (135M) is the default and the 0.5B coder is installed beside it: the bigger one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from edgemind.core.engine import AskOptions, Engine
from edgemind.core.models.registry import ModelRegistry
from edgemind.core.models.strength import StrongestModel
from edgemind.core.settings import Settings, load_settings
from edgemind.core.storage.db import open_database
from edgemind.kernels.gguf_header import read_gguf_header
from tests.conftest import DEFAULT, TINY

MATH = "A train travels 180 km in 2.5 hours. What is its average speed in km/h?"
CHAT = "Tell me a short story about a lighthouse keeper."


def _settings(home: Path, models_dir: Path, artifacts_dir: Path, strongest: bool) -> Settings:
    return load_settings(env={
        "EDGEMIND_HOME": str(home), "EDGEMIND_MODELS_DIR": str(models_dir), "EDGEMIND_ARTIFACTS_DIR": str(artifacts_dir),
        "EDGEMIND_DEFAULT_MODEL": TINY, "EDGEMIND_ROUTE_TO_STRONGEST": "1" if strongest else "0",
        "EDGEMIND_AUDIT_KEY_STORE": "file", "EDGEMIND_CACHE": "0"})


@pytest.fixture(scope="module")
def tiny_default(default_model_installed: Path, artifacts_dir: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = Engine.create(_settings(tmp_path_factory.mktemp("strongest"), default_model_installed.parent,
                                     artifacts_dir, strongest=True))
    yield engine
    engine.close()


def test_the_parameter_count_is_read_from_the_files_tensors(models_dir: Path) -> None:
    gguf = pytest.importorskip("gguf")
    path = next(models_dir.glob("smollm2-135m*.gguf"))
    reference = sum(int(t.n_elements) for t in gguf.GGUFReader(path).tensors)
    assert read_gguf_header(path).parameter_count == reference
    assert 130e6 < reference < 140e6  # SmolLM2-135M


@pytest.mark.default_model
def test_math_goes_to_the_bigger_installed_model_and_chat_stays_on_the_default(tiny_default: Engine) -> None:
    math = tiny_default.router.route(MATH, None)
    assert math.intent == "math" and math.model_id == DEFAULT
    counts = [read_gguf_header(tiny_default.registry.get(m).path).parameter_count / 1e9 for m in (DEFAULT, TINY)]
    why = f"{counts[0]:.2f}B parameters against the default's {counts[1]:.2f}B"
    assert f"strongest installed model, {DEFAULT}: {why}" in math.reason, math.reason
    chat = tiny_default.router.route(CHAT, None)
    assert chat.intent == "chat" and chat.model_id == TINY and "strongest" not in chat.reason


@pytest.mark.default_model
def test_a_model_the_user_picks_wins_over_the_strongest(tiny_default: Engine) -> None:
    decision = tiny_default.router.route(MATH, TINY)
    assert decision.model_id == TINY and "strongest" not in decision.reason


@pytest.mark.default_model
def test_the_answer_comes_from_the_model_the_route_named(tiny_default: Engine) -> None:
    result = tiny_default.ask("What is 12 times 12? Answer with the number only.",
                              AskOptions(max_tokens=16, temperature=0.0))
    assert result.intent == "math" and result.model == DEFAULT
    assert "144" in result.text


@pytest.mark.default_model
def test_with_the_setting_off_the_default_answers_everything(default_model_installed: Path, artifacts_dir: Path,
                                                              tmp_path: Path) -> None:
    engine = Engine.create(_settings(tmp_path / "off", default_model_installed.parent, artifacts_dir,
                                     strongest=False))
    try:
        assert engine.router.route(MATH, None).model_id == TINY
    finally:
        engine.close()


@pytest.mark.default_model
def test_a_model_too_big_for_this_computer_or_no_bigger_than_the_default_is_not_chosen(
        default_model_installed: Path, artifacts_dir: Path, tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home", default_model_installed.parent, artifacts_dir, strongest=True)
    registry = ModelRegistry(settings, sessionmaker(open_database(settings.db_path)))
    installed = registry.bundled

    assert StrongestModel(installed, lambda: TINY)() is not None
    qwen_size = registry.get(DEFAULT).size_bytes or 0
    assert StrongestModel(installed, lambda: TINY, memory_bytes=qwen_size)() is None  # needs twice its size free
    assert StrongestModel(installed, lambda: DEFAULT)() is None  # the 135M model is not stronger than the 0.5B one
    # a copy of the default under another id has as many parameters: not stronger either
    copy = replace(registry.get(DEFAULT), id="qwen-copy")
    assert StrongestModel(lambda: [*installed(), copy], lambda: DEFAULT)() is None
    # nothing to compare with while the default's file is missing: the default answers
    missing = replace(registry.get(TINY), path=tmp_path / "not-installed.gguf")
    assert StrongestModel(lambda: [missing, registry.get(DEFAULT)], lambda: TINY)() is None
