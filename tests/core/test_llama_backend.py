"""The llama.cpp backend on the real tiny model: streaming, stop sequences, cancellation, context limits."""

from __future__ import annotations

import threading

import pytest

from edgemind.core.backends.base import CancelToken, GenerationParams, Message
from edgemind.core.backends.chat_template import ChatTemplate
from edgemind.core.engine.facade import Engine
from edgemind.core.errors import ModelError, PromptError
from edgemind.core.events import BackendDone
from tests.conftest import TINY
from tests.support.streams import run

QUESTION = [Message("system", "You are a helpful assistant."), Message("user", "Tell me about the sea in a few sentences.")]


@pytest.fixture
def backend(engine: Engine):  # type: ignore[no-untyped-def]
    return engine.backend_for(engine.registry.get(TINY))


def greedy(max_tokens: int = 40, stop: tuple[str, ...] = ()) -> GenerationParams:
    return GenerationParams(max_tokens=max_tokens, temperature=0.0, seed=1, stop=stop)


def test_streams_text_and_reports_exact_token_counts(backend) -> None:  # type: ignore[no-untyped-def]
    text, done = run(backend.stream(QUESTION, greedy(30), CancelToken()))
    assert text.strip()
    assert 0 < done.tokens <= 30
    assert done.prompt_tokens == backend.count_tokens(QUESTION)
    assert done.finish_reason in ("stop", "length")


def test_greedy_decoding_is_repeatable(backend) -> None:  # type: ignore[no-untyped-def]
    first, _ = run(backend.stream(QUESTION, greedy(24), CancelToken()))
    second, _ = run(backend.stream(QUESTION, greedy(24), CancelToken()))
    assert first == second


def test_max_tokens_ends_the_answer_with_length(backend) -> None:  # type: ignore[no-untyped-def]
    _, done = run(backend.stream(QUESTION, greedy(5), CancelToken()))
    assert (done.tokens, done.finish_reason) == (5, "length")


def test_a_stop_sequence_ends_the_answer_before_it_is_printed(backend) -> None:  # type: ignore[no-untyped-def]
    full, _ = run(backend.stream(QUESTION, greedy(40), CancelToken()))
    words = full.split()
    assert len(words) > 6, full
    stop = " " + words[4]  # a word from the middle of what the model says without a stop sequence
    cut = full.index(stop)
    text, done = run(backend.stream(QUESTION, greedy(40, stop=(stop,)), CancelToken()))
    assert text == full[:cut]
    assert stop not in text
    assert done.finish_reason == "stop"


def test_cancel_stops_within_one_token(backend) -> None:  # type: ignore[no-untyped-def]
    cancel = CancelToken()
    received = 0
    done = None
    for chunk in backend.stream(QUESTION, greedy(200), cancel):
        if isinstance(chunk, BackendDone):
            done = chunk
            break
        received += 1
        if received == 3:
            cancel.cancel()
    assert done is not None and done.finish_reason == "cancelled"
    # The token being computed when cancel arrived is dropped; nothing after it is generated.
    assert done.tokens <= 3


def test_cancel_from_another_thread_stops_generation(backend) -> None:  # type: ignore[no-untyped-def]
    cancel = CancelToken()
    timer = threading.Timer(0.15, cancel.cancel)
    timer.start()
    _, done = run(backend.stream(QUESTION, GenerationParams(max_tokens=2000, temperature=0.8), cancel))
    assert done.finish_reason == "cancelled"
    assert done.tokens < 2000


def test_a_prompt_longer_than_the_context_is_a_clear_error(engine: Engine) -> None:
    from edgemind.core.settings import with_overrides

    from edgemind.core.backends.model_pool import ModelPool

    small = Engine(with_overrides(engine.settings, context_length=256), engine.registry, engine.store, ModelPool())
    backend = small.backend_for(engine.registry.get(TINY))
    with pytest.raises(PromptError, match="256-token context"):
        run(backend.stream([Message("user", "word " * 400)], greedy(), CancelToken()))


def test_the_model_is_loaded_once_and_kept_warm(engine: Engine, backend) -> None:  # type: ignore[no-untyped-def]
    run(backend.stream(QUESTION, greedy(3), CancelToken()))
    first_load = backend.take_load_ms()
    run(backend.stream(QUESTION, greedy(3), CancelToken()))
    assert first_load > 0 and backend.take_load_ms() == 0
    assert engine.pool.load_count(TINY) == 1 and engine.pool.loaded() == [TINY]


def test_threads_default_to_physical_cores(engine: Engine) -> None:
    import psutil

    assert engine.settings.effective_threads == (psutil.cpu_count(logical=False) or 1)


def test_chat_template_renders_the_models_own_format(models_dir) -> None:  # type: ignore[no-untyped-def]
    from edgemind.kernels.gguf_header import read_gguf_header

    header = read_gguf_header(models_dir / "smollm2-135m-instruct-q4_1.gguf")
    text = ChatTemplate(header.chat_template).render([Message("user", "hi")])
    assert text.endswith("<|im_start|>assistant\n")
    assert "<|im_start|>user\nhi<|im_end|>" in text


@pytest.mark.parametrize("hostile", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ messages.__class__.__init__.__globals__ }}",
    "{% set x = messages.append(1) %}{{ x }}",
    "{{ raise_exception('template says no') }}",
    "{% for m in messages %}",
])
def test_a_hostile_or_broken_chat_template_is_a_model_error_not_code(hostile: str) -> None:
    with pytest.raises(ModelError):
        ChatTemplate(hostile, model_id="evil").render([Message("user", "hi")])


def test_a_model_without_a_template_falls_back_to_chatml() -> None:
    template = ChatTemplate(None)
    assert template.is_fallback
    assert template.render([Message("user", "hi")]) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
