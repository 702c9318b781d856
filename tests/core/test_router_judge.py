"""A model settles the prompts the intent router is unsure about, when the policy names one."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterator

import pytest

from edgemind.core.embeddings.embedder import Embedder
from edgemind.core.engine.facade import Engine
from edgemind.core.errors import ModelError
from edgemind.core.routing.router import POLICY_FILE, IntentRouter, trained_model
from edgemind.core.routing.judge import ModelJudge
from edgemind.core.routing.policy import load_router_policy
from edgemind.core.settings import Settings

from tests.support.engines import default_model_settings

QWEN = "qwen2.5-coder-0.5b-instruct"


@pytest.fixture(scope="module")
def qwen_engine(default_model_installed: Path, artifacts_dir: Path,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    home = tmp_path_factory.mktemp("judge")
    settings = default_model_settings(home, default_model_installed.parent, artifacts_dir)
    engine = Engine.create(settings)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def always_unsure(qwen_engine: Engine, embedder: Embedder, artifacts_dir: Path) -> IntentRouter:
    """Every prompt below the threshold, so each one is the model's to settle."""
    policy = replace(load_router_policy(), confidence_threshold=1.0, unsure_model=QWEN)
    router = IntentRouter(policy, embedder, trained_model(embedder, policy, artifacts_dir / "router"), QWEN)
    spec = qwen_engine.registry.get(QWEN)
    router.judge = ModelJudge(spec.id, lambda: qwen_engine.backend_for(spec).stream)
    return router


@pytest.mark.default_model
@pytest.mark.parametrize(("prompt", "intent"), [
    ("Write a Python function that returns the longest word in a sentence.", "code"),
    ("What is 347 times 29?", "math"),
])
def test_an_unsure_prompt_goes_where_the_model_says(always_unsure: IntentRouter, prompt: str, intent: str) -> None:
    decision = always_unsure.route(prompt)
    assert decision.intent == intent, decision.reason
    assert f"the model {QWEN} says {intent}" in decision.reason


@pytest.mark.default_model
def test_the_model_only_chooses_between_the_routers_two_best_guesses(always_unsure: IntentRouter) -> None:
    # Qwen2.5-Coder-0.5B is a weak judge of "chat" (benchmarks/router.py --unsure-model): what is checked here is
    # that whatever it says is one of the two candidates it was offered, and the decision says so.
    decision = always_unsure.route("Tell me a fun fact about octopuses.")
    asked = decision.reason.split("asked ", 1)[1].split(",", 1)[0].split(" or ")
    assert len(asked) == 2 and decision.intent in asked, decision.reason


def test_without_a_model_an_unsure_prompt_falls_back(embedder: Embedder, artifacts_dir: Path) -> None:
    policy = replace(load_router_policy(), confidence_threshold=1.0)
    router = IntentRouter(policy, embedder, trained_model(embedder, policy, artifacts_dir / "router"), QWEN)
    decision = router.route("Write a Python function that returns the longest word in a sentence.")
    assert decision.intent == policy.fallback_intent and "says" not in decision.reason


def test_a_model_that_cannot_answer_leaves_the_fallback_in_place(embedder: Embedder, artifacts_dir: Path) -> None:
    policy = replace(load_router_policy(), confidence_threshold=1.0, unsure_model="gone")

    def broken_stream():  # type: ignore[no-untyped-def]
        raise ModelError("model 'gone' is not installed")

    router = IntentRouter(policy, embedder, trained_model(embedder, policy, artifacts_dir / "router"), QWEN)
    router.judge = ModelJudge("gone", broken_stream)
    decision = router.route("What is 347 times 29?")
    assert decision.intent == policy.fallback_intent


def test_an_unknown_unsure_model_in_the_policy_fails_at_start_naming_it(settings: Settings) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    (settings.home / POLICY_FILE).write_text('[router]\nunsure_model = "no-such-model"\n', encoding="utf-8")
    with pytest.raises(ModelError, match="no-such-model"):
        Engine.create(settings)
