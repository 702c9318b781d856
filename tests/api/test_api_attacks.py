"""Attacks on the local API server's input handling (issue 16): floods that must be refused before any work,
bodies that must be a 400 and never a 500, and headers that must not slip past the Host and Origin checks.

Each case is one attack, sent with the official `openai` or `ollama` client where the client can send it, and as
raw HTTP (http.client, httpx) where it cannot (duplicated headers, hand-made bodies).
"""

from __future__ import annotations

import gc
import http.client
import json
import time
from dataclasses import replace
from typing import Any, Callable
from urllib.parse import urlsplit

import httpx
import ollama
import openai
import pytest

from edgemind.core.api.config import ServerConfig
from edgemind.core.api.errors import ApiError
from edgemind.core.settings import Settings
from tests.api.conftest import API_KEY
from tests.conftest import TINY
from tests.support.api_server import ApiServer

FLOOD_MESSAGES = 28_001
FLOOD_BYTES = 3_500_000
QUICK_S = 5.0  # far below one generation over such a history (the issue measured ~300 s)
KEPT_MB = 150  # the issue measured 530 MB grown and kept


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def _flood() -> list[dict[str, str]]:
    """28,001 history messages in ~3.5 MB, ending with the user's turn."""
    size = FLOOD_BYTES // FLOOD_MESSAGES - 42  # the rest of each message's JSON: role, keys, quotes, the number
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": f"{i} " + "x" * size}
            for i in range(FLOOD_MESSAGES)]


def _long_history() -> list[dict[str, str]]:
    """Few enough messages (900), but ~3.5 MB of text: far more than any context the server offers."""
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": "word " * 780} for i in range(901)]


def openai_client(server: ApiServer, timeout: float = 20) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0, timeout=timeout)


def raw_post(server: ApiServer, path: str, content: bytes, timeout: float = 20) -> httpx.Response:
    return httpx.post(server.url + path, content=content, timeout=timeout,
                      headers={**server.headers, "Content-Type": "application/json"})


def one_line_error(response: httpx.Response) -> str:
    body = response.json()
    message = body["error"] if isinstance(body["error"], str) else body["error"]["message"]
    assert isinstance(message, str) and message and "\n" not in message and "Traceback" not in message
    return message


# ---- floods: refused before any work ------------------------------------------------------------------------------
def _server_seconds(server: ApiServer) -> float:
    """The server's own time spent on chat requests, from its /metrics (the openai client alone spends seconds
    validating 28,001 messages before it sends a byte: that is not the server's time)."""
    return sum(server.metric("edgemind_request_duration_seconds_sum", path=path)
               for path in ("/v1/chat/completions", "/api/chat"))


def _send_openai_flood(server: ApiServer, messages: list[dict[str, str]]) -> int:
    try:
        openai_client(server, timeout=60).chat.completions.create(model=TINY, messages=messages,  # type: ignore
                                                                  max_tokens=4)
    except openai.APIStatusError as exc:
        return exc.status_code
    return 200


def _send_ollama_flood(server: ApiServer, messages: list[dict[str, str]]) -> int:
    try:
        ollama.Client(host=server.url, headers=server.headers, timeout=60).chat(
            model=TINY, messages=messages, stream=False, options={"num_predict": 4})
    except ollama.ResponseError as exc:
        return exc.status_code
    return 200


@pytest.mark.attack("api")
@pytest.mark.parametrize("history, send", [
    (_flood, _send_openai_flood), (_flood, _send_ollama_flood),
    (_long_history, _send_openai_flood), (_long_history, _send_ollama_flood),
], ids=["28001-messages-openai", "28001-messages-ollama", "3.5MB-in-900-messages-openai",
        "3.5MB-in-900-messages-ollama"])
def test_a_flood_of_history_is_refused_quickly_and_keeps_no_memory(
        server: ApiServer, history: Callable[[], list[dict[str, str]]], send: Callable[..., int]) -> None:
    messages = history()
    assert 3_400_000 < len(json.dumps(messages)) < 3_600_000  # under the 4 MiB body limit: the caps must act
    gc.collect()
    before = _rss_mb()
    server_s = _server_seconds(server)
    status = send(server, messages)
    took = _server_seconds(server) - server_s
    gc.collect()
    grown = _rss_mb() - before
    assert status in (400, 413), status
    assert took < QUICK_S, f"refused only after {took:.1f} s of the server's time"
    assert grown < KEPT_MB, f"the server kept {grown:.0f} MB"


@pytest.mark.attack("api")
@pytest.mark.parametrize("path, field", [("/v1/completions", "prompt"), ("/api/generate", "prompt")])
def test_a_prompt_longer_than_any_context_is_refused_before_any_work(server: ApiServer, path: str,
                                                                       field: str) -> None:
    """900,000 characters: under the engine's own 1,000,000 limit, far over what the context can hold."""
    body = json.dumps({"model": TINY, field: "word " * 180_000, "max_tokens": 4, "stream": False}).encode()
    started = time.perf_counter()
    response = raw_post(server, path, body)
    assert response.status_code in (400, 413) and one_line_error(response)
    assert time.perf_counter() - started < QUICK_S


# ---- hostile bodies: 400 with one line, never 500 -------------------------------------------------------------------
DEEP = 100_000


@pytest.mark.attack("api")
@pytest.mark.parametrize("path, body", [
    ("/v1/chat/completions", b'{"model": "m", "messages": ' + b"[" * DEEP + b"]" * DEEP + b"}"),
    ("/api/chat", b'{"model": "m", "messages": ' + b"[" * DEEP + b"]" * DEEP + b"}"),
    ("/v1/chat/completions", b'{"model": "m", "x": ' + b'{"a": ' * DEEP + b"1" + b"}" * DEEP + b"}"),
    ("/v1/embeddings", b'{"model": "m", "input": ' + b"[" * DEEP + b"]" * DEEP + b"}"),
], ids=["openai-lists", "ollama-lists", "openai-objects", "embeddings-lists"])
def test_json_nested_a_hundred_thousand_deep_is_a_400(server: ApiServer, path: str, body: bytes) -> None:
    response = raw_post(server, path, body)
    assert response.status_code == 400, response.text[:200]
    assert "nested" in one_line_error(response)


@pytest.mark.attack("api")
@pytest.mark.parametrize("path, body", [
    ("/api/chat", b'{"model": "%s", "stream": false, "messages": [{"role": "user", "content": "hi \\udfff"}]}'),
    ("/api/generate", b'{"model": "%s", "stream": false, "prompt": "\\ud800"}'),
    ("/v1/completions", b'{"model": "%s", "prompt": "a\\udbffb"}'),
    ("/v1/chat/completions", b'{"model": "%s", "messages": [{"role": "user", "content": "hello \\ud800 there"}]}'),
    ("/v1/chat/completions", b'{"model": "%s", "messages": [{"role": "user", "content": "hi", "\\ud800": 1}]}'),
], ids=["ollama-chat", "ollama-generate", "openai-completions", "openai-chat", "in-a-key"])
def test_a_lone_surrogate_in_a_raw_body_is_a_400(server: ApiServer, path: str, body: bytes) -> None:
    """Raw: the openai and ollama clients cannot encode a lone surrogate themselves (UnicodeEncodeError before
    sending); a hand-written client or a curl command can."""
    response = raw_post(server, path, body.replace(b"%s", TINY.encode()))
    assert response.status_code == 400, response.text[:200]
    assert "surrogate" in one_line_error(response)


# ---- function calling: invalid is a 400, never ignored --------------------------------------------------------------
USER = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def _assistant_calls(calls: Any) -> list[dict[str, Any]]:
    return [USER[0], {"role": "assistant", "content": None, "tool_calls": calls},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]


@pytest.mark.attack("api")
@pytest.mark.parametrize("request_fields", [
    {"messages": USER, "tool_choice": "required"},  # a call required, but no function to call
    {"messages": USER, "tool_choice": "bogus"},
    {"messages": USER, "tool_choice": {"type": "function"}},
    {"messages": USER, "tools": [WEATHER], "tool_choice": {"type": "nonsense", "function": {"name": "get_weather"}}},
    {"messages": _assistant_calls("get_weather(Paris)")},
    {"messages": _assistant_calls([5])},
    {"messages": _assistant_calls([{"id": "call_1", "type": "function", "function": {"arguments": "{}"}}])},
    {"messages": _assistant_calls([{"id": "call_1", "type": "function",
                                    "function": {"name": "get_weather", "arguments": "{not json"}}])},
    {"messages": _assistant_calls([{"id": "call_1", "type": "function",
                                    "function": {"name": "get_weather", "arguments": 7}}])},
], ids=["required-without-tools", "bogus-choice", "choice-without-name", "choice-wrong-type", "calls-not-a-list", "call-not-an-object", "call-without-name", "arguments-not-json",
        "arguments-a-number"])
def test_invalid_tool_choice_or_tool_calls_from_the_openai_client_are_a_400(server: ApiServer,
                                                                            request_fields: dict[str, Any]) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client(server).chat.completions.create(model=TINY, max_tokens=4, **request_fields)
    assert caught.value.status_code == 400 and "tool" in caught.value.message


@pytest.mark.attack("api")
@pytest.mark.parametrize("calls", [
    "get_weather", [{"function": {"arguments": {"city": "Paris"}}}], [{"function": {"name": "x", "arguments": []}}],
], ids=["calls-not-a-list", "call-without-name", "arguments-a-list"])
def test_invalid_tool_calls_on_the_ollama_api_are_a_400(server: ApiServer, calls: Any) -> None:
    body = {"model": TINY, "stream": False, "messages": _assistant_calls(calls)}
    response = raw_post(server, "/api/chat", json.dumps(body).encode())
    assert response.status_code == 400 and "tool_calls" in one_line_error(response)


# ---- headers: duplicated or disguised -------------------------------------------------------------------------------
def _raw_get(server: ApiServer, headers: list[tuple[str, str]]) -> int:
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.putrequest("GET", "/v1/models", skip_host=True, skip_accept_encoding=True)
        conn.putheader("Authorization", f"Bearer {API_KEY}")
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.attack("api")
@pytest.mark.parametrize("headers", [
    [("Host", "evil.example"), ("Host", "127.0.0.1")],
    [("Host", "localhost"), ("Origin", "https://evil.example"), ("Origin", "http://localhost:3000")],
], ids=["host-evil-first", "origin-evil-first"])
def test_a_duplicated_host_or_origin_header_is_refused(server: ApiServer, headers: list[tuple[str, str]]) -> None:
    assert _raw_get(server, [("Host", "localhost")]) == 200  # the same request with one Host header is served
    assert _raw_get(server, headers) == 400


@pytest.mark.parametrize("headers", [
    [("Host", "127.0.0.1"), ("Host", "evil.example")],
    [("Host", "localhost"), ("Origin", "http://localhost:3000"), ("Origin", "https://evil.example")],
    [("Host", "localhost"), ("Authorization", f"Bearer {API_KEY}")],
], ids=["host-evil-last", "origin-evil-last", "authorization-twice"])
def test_a_duplicated_header_is_a_400_whichever_copy_is_foreign(server: ApiServer,
                                                                 headers: list[tuple[str, str]]) -> None:
    """Not an attack that passed before (the last copy was the one checked), but the rule is "once", not "last"."""
    assert _raw_get(server, headers) == 400


@pytest.mark.attack("api")
@pytest.mark.parametrize("host", ["[::1].evil.com", "[::1]evil.com", "[::1]:8642.evil.com", "[::1]:80@evil.com",
                                  "localhost:80.evil.com", "127.0.0.1:x"])
def test_a_host_that_only_starts_like_loopback_is_403(server: ApiServer, host: str) -> None:
    response = httpx.get(server.url + "/v1/models", headers={**server.headers, "Host": host}, timeout=10)
    assert response.status_code in (400, 403), f"{host!r} passed the Host check"


def test_the_message_cap_is_the_api_max_messages_setting(settings: Settings) -> None:
    caps = ServerConfig.from_settings(replace(settings, api_max_messages=3), api_key=API_KEY).caps
    caps.check_messages(3)
    with pytest.raises(ApiError, match="4 messages; the limit is 3"):
        caps.check_messages(4)
