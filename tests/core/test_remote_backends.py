"""The `openai` and `ollama` backends against EdgeMind's own API server (`edgemind serve`'s application on a free
loopback port), through the official client libraries.

The server answers with the bundled tiny model through the engine and our llama.cpp backend, so at temperature 0 a
remote answer must be exactly what the llama.cpp backend gives directly for the same messages.
"""

from __future__ import annotations

import logging
import socket
from contextlib import closing
from pathlib import Path
from typing import Callable, Iterator

import pytest

from edgemind.core.backends.base import Backend, CancelToken, GenerationParams, Message
from edgemind.core.backends.ollama_backend import OllamaBackend
from edgemind.core.backends.openai_backend import OpenAIBackend
from edgemind.core.engine.facade import AskOptions, Engine
from edgemind.core.errors import BackendUnavailable, ModelNotFound
from edgemind.core.events import BackendDone, Done, Error, Route, Token
from edgemind.core.models.manifest import ModelSpec
from edgemind.core.settings import load_settings
from tests.support.api_server import ApiServer

TINY = "smollm2-135m-instruct"
SERVED = TINY
SECRET = "secret-0123456789abcdef"
# With a system message of its own the server sends the model exactly these messages (no routed system prompt).
SYSTEM = Message("system", "You are a helpful assistant.")
QUESTION = [SYSTEM, Message("user", "Name three colours of the rainbow.")]
COUNTING = [SYSTEM, Message("user", "Count from 1 to 100, separated by commas.")]


def openai_backend(url: str, model: str = SERVED, api_key: str | None = SECRET) -> OpenAIBackend:
    spec = ModelSpec(id=f"openai:{model}", backend="openai", endpoint=url + "/v1", remote_model=model, api_key=api_key)
    return OpenAIBackend(spec, timeout=30)


def ollama_backend(url: str, model: str = SERVED) -> OllamaBackend:
    spec = ModelSpec(id=f"ollama:{model}", backend="ollama", endpoint=url, remote_model=model, api_key=SECRET)
    return OllamaBackend(spec, timeout=30)


REMOTE: dict[str, Callable[[str], Backend]] = {"openai": openai_backend, "ollama": ollama_backend}


def run(backend: Backend, messages: list[Message], params: GenerationParams,
        cancel: CancelToken | None = None) -> tuple[list[str], BackendDone]:
    """Drain a backend's stream: the text pieces in order, and its BackendDone."""
    pieces: list[str] = []
    with closing(backend.stream(messages, params, cancel or CancelToken())) as chunks:
        for chunk in chunks:
            if isinstance(chunk, BackendDone):
                return pieces, chunk
            pieces.append(chunk)
    raise AssertionError(f"{backend.name} ended its stream without a BackendDone after {pieces!r}")


@pytest.fixture
def server_engine(env: dict[str, str], tmp_path: Path) -> Iterator[Engine]:
    """The server's engine: answer cache off, so every request really generates."""
    eng = Engine.create(load_settings(env={**env, "EDGEMIND_HOME": str(tmp_path / "server"), "EDGEMIND_CACHE": "0"}))
    yield eng
    eng.close()


@pytest.fixture
def tiny_backend(server_engine: Engine) -> Backend:
    return server_engine.backend_for(server_engine.registry.get(TINY))


@pytest.fixture
def server(server_engine: Engine) -> Iterator[ApiServer]:
    with ApiServer(server_engine, api_key=SECRET, rate_limit_per_minute=0) as srv:
        yield srv


def warm(backend: Backend, messages: list[Message]) -> None:
    """Run the messages once so the direct and the served runs both reuse the prompt's KV cache: a cold run
    evaluates the prompt in one batch and can pick a different token late in the answer than a warm one (seen at
    token 18 here), even on llama.cpp alone."""
    run(backend, messages, GenerationParams(max_tokens=4, temperature=0))


def generations(server: ApiServer, **labels: str) -> float:
    return server.metric("edgemind_generations_total", **labels)


@pytest.fixture
def dead_url() -> Iterator[str]:
    """A URL where nothing listens: the port is bound but not listening (refused at once), and held for the test."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def client_engine(env: dict[str, str], tmp_path: Path) -> Iterator[Callable[[str], Engine]]:
    """Make an engine (with its own data folder) whose settings point EDGEMIND_OLLAMA_HOST at a given URL."""
    made: list[Engine] = []

    def make(ollama_host: str) -> Engine:
        home = tmp_path / f"client-{len(made)}"
        made.append(Engine.create(load_settings(env={**env, "EDGEMIND_HOME": str(home),
                                                     "EDGEMIND_OLLAMA_HOST": ollama_host,
                                                     "EDGEMIND_OLLAMA_API_KEY": SECRET})))
        return made[-1]

    yield make
    for eng in made:
        eng.close()


# ---- the same answer as llama.cpp directly ----------------------------------------------------------------------
@pytest.mark.parametrize("api", ["openai", "ollama"])
def test_remote_backend_streams_exactly_what_llama_cpp_gives_directly(api: str, server: ApiServer,
                                                                      tiny_backend: Backend) -> None:
    params = GenerationParams(max_tokens=24, temperature=0, seed=7)
    warm(tiny_backend, QUESTION)
    direct, direct_done = run(tiny_backend, QUESTION, params)

    pieces, done = run(REMOTE[api](server.url), QUESTION, params)

    assert "".join(pieces).strip(), "the model said nothing"
    assert pieces == direct, "the text, piece by piece, differs from the direct llama.cpp run"
    assert len(pieces) > 1, "the answer arrived in one piece: it was not streamed"
    assert done.tokens == direct_done.tokens > 0
    assert done.prompt_tokens == direct_done.prompt_tokens > 0
    assert done.finish_reason == direct_done.finish_reason == "length"
    path = "/v1/chat/completions" if api == "openai" else "/api/chat"
    assert server.metric("edgemind_requests_total", path=path, status="200") == 1


@pytest.mark.parametrize("api", ["openai", "ollama"])
def test_sampling_settings_and_seed_reach_the_server(api: str, server: ApiServer, tiny_backend: Backend) -> None:
    remote = REMOTE[api](server.url)
    warm(tiny_backend, QUESTION)
    answers = {}
    for seed in (7, 8):
        params = GenerationParams(max_tokens=12, temperature=1.0, top_p=0.9, seed=seed)
        direct, _ = run(tiny_backend, QUESTION, params)
        pieces, _ = run(remote, QUESTION, params)
        assert "".join(pieces) == "".join(direct), f"seed {seed}: the server sampled differently"
        answers[seed] = "".join(pieces)
    assert answers[7] != answers[8], "two seeds gave one answer, so this test cannot tell whether the seed arrived"


@pytest.mark.parametrize("api", ["openai", "ollama"])
def test_stop_sequences_reach_the_server_and_end_the_answer(api: str, server: ApiServer,
                                                            tiny_backend: Backend) -> None:
    warm(tiny_backend, COUNTING)
    free, _ = run(tiny_backend, COUNTING, GenerationParams(max_tokens=24, temperature=0, seed=7))
    # The stop is cut from the middle of what the model says here: which digits it writes (and how) differs between
    # CPUs, and the test is about the stop, not the counting.
    said = "".join(free)
    stop = said[len(said) // 2:len(said) // 2 + 3]
    assert stop.strip(), f"the model said too little to cut a stop from: {said!r}"
    params = GenerationParams(max_tokens=24, temperature=0, seed=7, stop=(stop,))
    direct, direct_done = run(tiny_backend, COUNTING, params)
    assert direct_done.finish_reason == "stop", f"the stop {stop!r} did not end {''.join(direct)!r}"

    pieces, done = run(REMOTE[api](server.url), COUNTING, params)

    assert "".join(pieces) == "".join(direct)
    assert stop not in "".join(pieces) and len("".join(pieces)) < len(said)
    assert done.finish_reason == "stop"


# ---- through the engine -----------------------------------------------------------------------------------------
def test_engine_answers_with_a_registered_openai_endpoint(engine: Engine, server: ApiServer) -> None:
    spec = engine.registry.add_openai(server.url + "/v1", SERVED, api_key=SECRET)

    result = engine.ask("Say hello.", AskOptions(model=spec.id, temperature=0, max_tokens=16))

    assert result.text.strip()
    assert (result.model, result.backend) == (spec.id, "openai")
    assert 0 < result.tokens <= 16
    assert result.prompt_tokens > 0
    assert server.metric("edgemind_requests_total", path="/v1/chat/completions", status="200") == 1


def test_engine_answers_with_an_ollama_model_when_ollama_host_is_the_server(
        server: ApiServer, client_engine: Callable[[str], Engine]) -> None:
    engine = client_engine(server.url)

    result = engine.ask("Say hello.", AskOptions(model=f"ollama:{SERVED}", temperature=0, max_tokens=16))

    assert result.text.strip()
    assert (result.model, result.backend) == (f"ollama:{SERVED}", "ollama")
    assert 0 < result.tokens <= 16
    assert result.prompt_tokens > 0
    assert server.metric("edgemind_requests_total", path="/api/chat", status="200") == 1


def test_registry_lists_the_ollama_servers_models_when_it_answers(
        server: ApiServer, client_engine: Callable[[str], Engine]) -> None:
    models = client_engine(server.url).registry.list_models()

    ollama_models = [m for m in models if m.backend == "ollama"]
    assert f"ollama:{SERVED}" in [m.id for m in ollama_models]
    assert all(m.endpoint == server.url for m in ollama_models)
    assert TINY in [m.id for m in models]


def test_registry_lists_no_ollama_models_when_the_server_is_down(
        dead_url: str, client_engine: Callable[[str], Engine]) -> None:
    models = client_engine(dead_url).registry.list_models()

    assert [m.id for m in models if m.backend == "ollama"] == []
    assert TINY in [m.id for m in models]


# ---- failures a user can act on ---------------------------------------------------------------------------------
@pytest.mark.parametrize("api", ["openai", "ollama"])
def test_a_server_that_is_down_is_backend_unavailable_naming_its_url(api: str, dead_url: str) -> None:
    with pytest.raises(BackendUnavailable) as caught:
        run(REMOTE[api](dead_url), QUESTION, GenerationParams(max_tokens=8))

    message = str(caught.value)
    assert dead_url in message
    assert "\n" not in message


@pytest.mark.parametrize("api", ["openai", "ollama"])
def test_engine_turns_a_down_server_into_an_error_event(api: str, dead_url: str, engine: Engine,
                                                        client_engine: Callable[[str], Engine],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    if api == "openai":
        model_id = engine.registry.add_openai(dead_url + "/v1", SERVED).id
    else:
        engine, model_id = client_engine(dead_url), f"ollama:{SERVED}"
    caplog.set_level(logging.DEBUG)

    events = list(engine.stream("Say hello.", AskOptions(model=model_id, max_tokens=8)))

    assert [type(e) for e in events] == [Route, Error]
    error = events[-1]
    assert isinstance(error, Error)
    assert error.kind == "backend_unavailable"
    assert dead_url in error.message and "\n" not in error.message
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged for an expected failure"


@pytest.mark.parametrize("api_key", ["wrong", None], ids=["wrong-key", "no-key"])
def test_openai_backend_reports_a_rejected_api_key_as_backend_unavailable(api_key: str | None,
                                                                          server: ApiServer) -> None:
    with pytest.raises(BackendUnavailable) as caught:
        run(openai_backend(server.url, api_key=api_key), QUESTION, GenerationParams(max_tokens=8))

    message = str(caught.value)
    assert "401" in message and "API key" in message
    assert server.url in message
    assert generations(server) == 0, "the server generated for a request it should have refused"


@pytest.mark.parametrize("api", ["openai", "ollama"])
def test_a_model_the_server_does_not_have_is_model_not_found(api: str, server: ApiServer) -> None:
    with pytest.raises(ModelNotFound) as caught:
        run(REMOTE[api](server.url, "no-such-model"), QUESTION, GenerationParams(max_tokens=8))

    assert "no-such-model" in str(caught.value)


# ---- cancelling -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("api", ["openai", "ollama"])
def test_cancelling_after_the_first_token_stops_the_stream_and_the_server(api: str, server: ApiServer) -> None:
    max_tokens = 256
    cancel = CancelToken()
    pieces: list[str] = []
    done: BackendDone | None = None
    with closing(REMOTE[api](server.url).stream(COUNTING, GenerationParams(max_tokens=max_tokens, temperature=0),
                                                 cancel)) as chunks:
        for chunk in chunks:
            if isinstance(chunk, BackendDone):
                done = chunk
                break
            pieces.append(chunk)
            cancel.cancel()

    assert done is not None
    assert done.finish_reason == "cancelled"
    assert len(pieces) == 1, "text kept coming after the cancel"
    assert done.tokens < 8
    # The client hung up, so the server noticed and stopped generating long before max_tokens.
    assert server.wait_metric("edgemind_generations_total", 1, finish_reason="cancelled") == 1
    assert generations(server, finish_reason="length") == 0
    assert server.metric("edgemind_tokens_total", kind="completion") < max_tokens // 2


def test_engine_stream_cancelled_over_http_reports_cancelled(engine: Engine, server: ApiServer) -> None:
    spec = engine.registry.add_openai(server.url + "/v1", SERVED, api_key=SECRET)
    cancel = CancelToken()
    events = []
    for event in engine.stream("Count from 1 to 100, separated by commas.",
                               AskOptions(model=spec.id, temperature=0, max_tokens=256), cancel):
        events.append(event)
        if isinstance(event, Token):
            cancel.cancel()

    done = events[-1]
    assert isinstance(done, Done)
    assert done.finish_reason == "cancelled"
    assert sum(isinstance(e, Token) for e in events) == 1
