"""The official `openai` and `ollama` Python clients against a running `edgemind serve` with the tiny model."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import ollama
import openai
import pytest

from edgemind.core.embeddings.embedder import Embedder
from tests.api.conftest import API_KEY
from tests.conftest import TINY
from tests.support.api_server import ApiServer

QUESTION = [{"role": "user", "content": "Name three colours of the rainbow."}]
# Only what llama.cpp's schema-to-grammar conversion enforces (it ignores numeric ranges): a short name, an integer,
# a value from a list.
PERSON = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 12}, "age": {"type": "integer"},
                                           "mood": {"enum": ["calm", "cheerful", "grumpy"]}},
          "required": ["name", "age", "mood"], "additionalProperties": False}
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 30},
                                                    "unit": {"enum": ["celsius", "fahrenheit"]}},
                   "required": ["city", "unit"], "additionalProperties": False}}}


def client(server: ApiServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0, timeout=60)


def ollama_client(server: ApiServer) -> ollama.Client:
    return ollama.Client(host=server.url, headers=server.headers, timeout=60)


# ---- OpenAI -----------------------------------------------------------------------------------------------------
def test_openai_sync_chat_answers_with_usage(server: ApiServer) -> None:
    reply = client(server).chat.completions.create(model=TINY, messages=QUESTION, max_tokens=12, temperature=0)

    choice = reply.choices[0]
    assert choice.message.role == "assistant" and choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    assert reply.model == TINY
    assert 0 < reply.usage.completion_tokens <= 12 and reply.usage.prompt_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_openai_streaming_sends_pieces_then_usage_and_matches_the_whole_answer(server: ApiServer) -> None:
    api = client(server)
    whole = api.chat.completions.create(model=TINY, messages=QUESTION, max_tokens=12, temperature=0, seed=1)
    pieces, usage, finishes = [], None, []
    for chunk in api.chat.completions.create(model=TINY, messages=QUESTION, max_tokens=12, temperature=0, seed=1,
                                             stream=True, stream_options={"include_usage": True}):
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason:
                finishes.append(choice.finish_reason)

    assert len(pieces) > 1, "the answer arrived in one piece: it was not streamed"
    assert "".join(pieces) == whole.choices[0].message.content
    assert finishes == [whole.choices[0].finish_reason]
    assert usage is not None and usage.completion_tokens == whole.usage.completion_tokens


def test_openai_async_client_answers_concurrent_requests(server: ApiServer) -> None:
    async def main() -> list[str]:
        api = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0, timeout=60)
        replies = await asyncio.gather(*[
            api.chat.completions.create(model=TINY, max_tokens=6, temperature=0,
                                        messages=[{"role": "user", "content": f"Say the number {i}."}])
            for i in range(3)])
        await api.close()
        return [r.choices[0].message.content for r in replies]

    answers = asyncio.run(main())
    assert len(answers) == 3 and all(a.strip() for a in answers)


def test_response_format_json_schema_gives_json_valid_against_the_schema(server: ApiServer) -> None:
    reply = client(server).chat.completions.create(
        model=TINY, max_tokens=48, temperature=0.8, seed=3,
        messages=[{"role": "user", "content": "Invent a person."}],
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}})

    person = json.loads(reply.choices[0].message.content)
    assert set(person) == {"name", "age", "mood"}
    assert isinstance(person["name"], str) and len(person["name"]) <= 12
    assert isinstance(person["age"], int) and person["mood"] in ("calm", "cheerful", "grumpy")


def test_tools_come_back_as_tool_calls_with_arguments_matching_the_schema(server: ApiServer) -> None:
    reply = client(server).chat.completions.create(
        model=TINY, max_tokens=48, temperature=0, tools=[WEATHER_TOOL], tool_choice="required",
        messages=[{"role": "user", "content": "What is the weather in Paris?"}])

    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.function.name == "get_weather" and call.id
    arguments = json.loads(call.function.arguments)
    assert set(arguments) == {"city", "unit"} and arguments["unit"] in ("celsius", "fahrenheit")


def test_streamed_tool_call_arrives_whole(server: ApiServer) -> None:
    calls = []
    for chunk in client(server).chat.completions.create(
            model=TINY, max_tokens=48, temperature=0, tools=[WEATHER_TOOL], tool_choice="required", stream=True,
            messages=[{"role": "user", "content": "What is the weather in Oslo?"}]):
        for choice in chunk.choices:
            calls += choice.delta.tool_calls or []
    assert len(calls) == 1 and calls[0].function.name == "get_weather"
    assert set(json.loads(calls[0].function.arguments)) == {"city", "unit"}


def test_auto_model_is_routed_and_names_the_model_that_answered(server: ApiServer) -> None:
    reply = client(server).chat.completions.create(model="auto", messages=QUESTION, max_tokens=4)
    assert reply.model == TINY  # the router's policy sends every intent to the default model, the tiny one here


def test_completions_models_and_embeddings(server: ApiServer, embedder: Embedder) -> None:
    api = client(server)
    completion = api.completions.create(model=TINY, prompt="The sky is", max_tokens=5, temperature=0)
    assert completion.choices[0].text.strip() and completion.usage.completion_tokens <= 5

    ids = [m.id for m in api.models.list()]
    assert {"auto", TINY, "all-minilm-l6-v2"} <= set(ids)

    texts = ["a cat sat on the mat", "stock prices fell"]
    result = api.embeddings.create(model="all-minilm-l6-v2", input=texts)  # the client asks for base64
    vectors = np.array([d.embedding for d in result.data], dtype=np.float32)
    assert vectors.shape == (2, 384)
    np.testing.assert_allclose(vectors, embedder.embed(texts), atol=1e-5)
    assert result.usage.prompt_tokens > 0


# ---- Ollama -----------------------------------------------------------------------------------------------------
def test_ollama_chat_streams_and_reports_counts(server: ApiServer) -> None:
    chunks = list(ollama_client(server).chat(model=TINY, messages=QUESTION, stream=True,
                                             options={"num_predict": 10, "temperature": 0}))
    text = "".join(c.message.content for c in chunks)
    assert text.strip() and len(chunks) > 2
    assert chunks[-1].done and chunks[-1].done_reason == "length"
    assert chunks[-1].eval_count == 10 and chunks[-1].prompt_eval_count > 0


def test_ollama_generate_with_a_format_schema_gives_valid_json(server: ApiServer) -> None:
    reply = ollama_client(server).generate(model=TINY, prompt="Invent a person.", format=PERSON, stream=False,
                                           options={"num_predict": 48, "temperature": 0.8, "seed": 5})
    person = json.loads(reply.response)
    assert set(person) == {"name", "age", "mood"} and isinstance(person["age"], int)


def test_ollama_tools_tags_show_version_and_embed(server: ApiServer, embedder: Embedder) -> None:
    api = ollama_client(server)
    reply = api.chat(model=TINY, messages=[{"role": "user", "content": "Call get_weather for Rome."}], tools=[WEATHER_TOOL],
                     options={"num_predict": 48, "temperature": 0})
    # Ollama has no tool_choice, so the model may call or answer (the tiny one often answers); either way the
    # server unwraps the constrained JSON into a call or into plain text.
    if reply.message.tool_calls:
        assert reply.message.tool_calls[0].function.name == "get_weather"
        assert set(reply.message.tool_calls[0].function.arguments) == {"city", "unit"}
    else:
        assert reply.message.content.strip() and not reply.message.content.lstrip().startswith("{")

    assert TINY in [m.model for m in api.list().models]
    assert api.show(TINY).details.format == "gguf"
    vectors = np.array(api.embed(model="all-minilm-l6-v2", input=["hello there"]).embeddings, dtype=np.float32)
    np.testing.assert_allclose(vectors, embedder.embed(["hello there"]), atol=1e-5)
    with pytest.raises(ollama.ResponseError) as caught:
        api.chat(model="no-such-model", messages=QUESTION)
    assert caught.value.status_code == 404 and "no-such-model" in caught.value.error
