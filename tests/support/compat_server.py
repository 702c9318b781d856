"""A real HTTP server speaking enough of the OpenAI and Ollama APIs for the official Python clients.

This is a test fixture standing in until EdgeMind's own API server lands: the `openai` and `ollama` backends are
tested against it over real sockets, and every answer is real model output from the backends it is given (in the
tests, the llama.cpp backend on the bundled tiny model). Only the standard library is used for the HTTP side.

    with CompatServer({"tiny": backend}, api_key="secret") as server:
        OpenAI(base_url=server.url + "/v1", api_key="secret") ...   # or ollama.Client(host=server.url)

Each finished (or abandoned) generation is recorded in `server.served`; `wait_served()` waits for the next record,
so a test can check what the server itself saw, e.g. that a client disconnect stopped generation.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import socket
import sys
import threading
import time
import uuid
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping

from edgemind.core.backends.base import Backend, CancelToken, GenerationParams, Message
from edgemind.core.errors import EdgeMindError, PromptError
from edgemind.core.events import BackendDone


@dataclass(slots=True)
class Served:
    """What the server saw of one generation request."""

    api: str  # openai | ollama
    model: str
    finish_reason: str  # stop | length | client_disconnected
    tokens: int


@dataclass(frozen=True, slots=True)
class _Framing:
    """How one API frames a streamed answer."""

    content_type: str
    piece: Callable[[str], bytes]  # one text piece
    end: Callable[[BackendDone, dict[str, int]], bytes]  # the closing frames, given the done and timings (ns)
    whole: Callable[[str, BackendDone, dict[str, int]], dict[str, Any]]  # the non-stream answer


class _BadRequest(Exception):
    pass


def _params(**values: Any) -> GenerationParams:
    stop = values.pop("stop", None)
    kept = {k: v for k, v in values.items() if v is not None}
    if stop:
        kept["stop"] = (stop,) if isinstance(stop, str) else tuple(stop)
    try:
        return GenerationParams(**kept)
    except TypeError as exc:
        raise _BadRequest(str(exc)) from None


def _messages(raw: Any) -> list[Message]:
    if not isinstance(raw, list) or not raw:
        raise _BadRequest("'messages' must be a non-empty list")
    try:
        return [Message(str(m["role"]), str(m.get("content") or "")) for m in raw]
    except (TypeError, KeyError):
        raise _BadRequest("each message needs a 'role' and a 'content'") from None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, chunked streaming: what the clients' connection pools expect
    server: "_HTTPServer"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet; pytest shows failures, not logs
        pass

    def setup(self) -> None:
        super().setup()
        self.server.compat._track(self.connection, True)

    def finish(self) -> None:
        self.server.compat._track(self.connection, False)
        super().finish()

    # ---- plumbing -----------------------------------------------------------------------------------------------
    def _send_json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _openai_error(self, status: int, message: str, code: str | None = None) -> None:
        kind = "invalid_request_error" if status < 500 else "server_error"
        self._send_json(status, {"error": {"message": message, "type": kind, "param": None, "code": code}})

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _body(self) -> dict[str, Any]:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise _BadRequest("the body is not JSON") from None
        if not isinstance(body, dict):
            raise _BadRequest("the body must be a JSON object")
        return body

    # ---- routing ------------------------------------------------------------------------------------------------
    def do_GET(self) -> None:
        compat = self.server.compat
        if self.path == "/v1/models":
            if self._authorized():
                models = [{"id": n, "object": "model", "created": compat.created, "owned_by": "edgemind"}
                          for n in compat.backends]
                self._send_json(200, {"object": "list", "data": models})
        elif self.path == "/api/tags":
            self._send_json(200, {"models": [compat.ollama_tag(n) for n in compat.backends]})
        elif self.path == "/api/version":
            self._send_json(200, {"version": "0.0.0-edgemind-test"})
        else:
            self._not_found()

    def do_POST(self) -> None:
        try:
            body = self._body()
            if self.path == "/v1/chat/completions":
                if self._authorized():
                    self._openai_chat(body)
            elif self.path == "/api/chat":
                self._ollama_chat(body)
            else:
                self._not_found()
        except _BadRequest as exc:
            if self.path.startswith("/v1/"):
                self._openai_error(400, str(exc))
            else:
                self._send_json(400, {"error": str(exc)})

    def _not_found(self) -> None:
        if self.path.startswith("/v1/"):
            self._openai_error(404, f"no route {self.command} {self.path}")
        else:
            self._send_json(404, {"error": "404 page not found"})

    def _authorized(self) -> bool:
        key = self.server.compat.api_key
        if key is None or self.headers.get("Authorization") == f"Bearer {key}":
            return True
        self._openai_error(401, "Incorrect API key provided.", "invalid_api_key")
        return False

    # ---- OpenAI -------------------------------------------------------------------------------------------------
    def _openai_chat(self, body: dict[str, Any]) -> None:
        model = body.get("model")
        if model not in self.server.compat.backends:
            return self._openai_error(404, f"The model `{model}` does not exist.", "model_not_found")
        params = _params(
            max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"), temperature=body.get("temperature"),
            top_p=body.get("top_p"), seed=body.get("seed"), stop=body.get("stop"),
        )
        base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": model,
                "system_fingerprint": "edgemind-test"}
        with_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def usage(done: BackendDone) -> dict[str, int]:
            return {"prompt_tokens": done.prompt_tokens, "completion_tokens": done.tokens,
                    "total_tokens": done.prompt_tokens + done.tokens}

        def sse(obj: Any) -> bytes:
            return b"data: " + json.dumps(obj).encode() + b"\n\n"

        def chunk(delta: dict[str, str], finish: str | None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return {**base, "object": "chat.completion.chunk", "choices": [choice]}

        def end(done: BackendDone, _: dict[str, int]) -> bytes:
            out = sse(chunk({}, "length" if done.finish_reason == "length" else "stop"))
            if with_usage:
                out += sse({**base, "object": "chat.completion.chunk", "choices": [], "usage": usage(done)})
            return out + b"data: [DONE]\n\n"

        def whole(text: str, done: BackendDone, _: dict[str, int]) -> dict[str, Any]:
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None,
                      "finish_reason": "length" if done.finish_reason == "length" else "stop"}
            return {**base, "object": "chat.completion", "choices": [choice], "usage": usage(done)}

        framing = _Framing("text/event-stream", lambda text: sse(chunk({"content": text}, None)), end, whole)
        # Like the real API, the first chunk carries the role and no text.
        opening = sse(chunk({"role": "assistant", "content": ""}, None))
        self._generate("openai", model, _messages(body.get("messages")), params, bool(body.get("stream")), framing,
                       opening)

    # ---- Ollama -------------------------------------------------------------------------------------------------
    def _ollama_chat(self, body: dict[str, Any]) -> None:
        model = body.get("model")
        if model not in self.server.compat.backends:
            return self._send_json(404, {"error": f"model '{model}' not found"})
        opts = body.get("options") or {}
        num_predict = opts.get("num_predict")
        params = _params(
            max_tokens=None if num_predict is None or num_predict < 0 else num_predict,
            temperature=opts.get("temperature"), top_p=opts.get("top_p"), top_k=opts.get("top_k"),
            repeat_penalty=opts.get("repeat_penalty"), seed=opts.get("seed"), stop=opts.get("stop"),
        )

        def line(content: str, done: bool, **extra: Any) -> dict[str, Any]:
            created = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
            return {"model": model, "created_at": created, "message": {"role": "assistant", "content": content},
                    "done": done, **extra}

        def final(text: str, done: BackendDone, ns: dict[str, int]) -> dict[str, Any]:
            return line(text, True, done_reason="length" if done.finish_reason == "length" else "stop",
                        prompt_eval_count=done.prompt_tokens, eval_count=done.tokens, **ns)

        framing = _Framing(
            "application/x-ndjson", lambda text: json.dumps(line(text, False)).encode() + b"\n",
            lambda done, ns: json.dumps(final("", done, ns)).encode() + b"\n", final,
        )
        # Ollama streams unless told not to.
        self._generate("ollama", model, _messages(body.get("messages")), params, body.get("stream", True) is not False,
                       framing)

    # ---- one generation, either API -----------------------------------------------------------------------------
    def _generate(self, api: str, model: str, messages: list[Message], params: GenerationParams, stream: bool,
                  framing: _Framing, opening: bytes = b"") -> None:
        compat = self.server.compat
        backend = compat.backends[model]
        cancel = CancelToken()
        started = time.perf_counter_ns()
        pieces: list[str] = []
        with closing(backend.stream(messages, params, cancel)) as chunks:
            try:
                first = next(chunks)  # errors before any output become a plain error status
            except EdgeMindError as exc:
                status = 400 if isinstance(exc, PromptError) else 500
                if api == "openai":
                    return self._openai_error(status, str(exc))
                return self._send_json(status, {"error": str(exc)})
            first_at = time.perf_counter_ns()
            try:
                if stream:
                    self.send_response(200)
                    self.send_header("Content-Type", framing.content_type)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    if opening:
                        self._write_chunk(opening)
                done = BackendDone("stop", 0, 0)
                for piece in itertools.chain([first], chunks):
                    if isinstance(piece, BackendDone):
                        done = piece
                        break
                    pieces.append(piece)
                    if stream:
                        self._write_chunk(framing.piece(piece))
                now = time.perf_counter_ns()
                load_ns = int(backend.take_load_ms() * 1e6)
                ns = {"total_duration": now - started, "load_duration": load_ns,
                      "prompt_eval_duration": max(first_at - started - load_ns, 0), "eval_duration": now - first_at}
                if stream:
                    self._write_chunk(framing.end(done, ns))
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self._send_json(200, framing.whole("".join(pieces), done, ns))
                record = Served(api, model, done.finish_reason, done.tokens)
            except (BrokenPipeError, ConnectionResetError):
                # The client went away: stop generating now (closing() ends the backend's stream too).
                cancel.cancel()
                self.close_connection = True
                record = Served(api, model, "client_disconnected", len(pieces))
        compat._record(record)  # after closing(): once recorded, the backend has stopped and released the model


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    compat: "CompatServer"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up between requests (the sync OpenAI client drops its connection right after
        # `[DONE]`) is normal; anything else is a bug worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class CompatServer:
    """Serve `backends` ({model name: EdgeMind backend}) over the OpenAI and Ollama APIs on 127.0.0.1."""

    def __init__(self, backends: Mapping[str, Backend], *, api_key: str | None = None, port: int = 0) -> None:
        self.backends = dict(backends)
        self.api_key = api_key
        self.created = int(time.time())
        self.served: list[Served] = []
        self._served_cond = threading.Condition()
        self._connections: set[socket.socket] = set()
        self._httpd = _HTTPServer(("127.0.0.1", port), _Handler)
        self._httpd.compat = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def ollama_tag(self, name: str) -> dict[str, Any]:
        digest = hashlib.sha256(name.encode()).hexdigest()
        modified = datetime.fromtimestamp(self.created, timezone.utc).isoformat().replace("+00:00", "Z")
        details = {"parent_model": "", "format": "gguf", "family": "", "families": None, "parameter_size": "",
                   "quantization_level": ""}
        return {"name": name, "model": name, "modified_at": modified, "size": 0, "digest": digest, "details": details}

    def start(self) -> "CompatServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="compat-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        with self._served_cond:
            open_now = list(self._connections)
        for conn in open_now:  # idle keep-alive connections would otherwise linger in their threads
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._httpd.server_close()

    def __enter__(self) -> "CompatServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_served(self, count: int = 1, timeout: float = 30.0) -> list[Served]:
        """Wait until at least `count` generations have been recorded; return all records."""
        with self._served_cond:
            if not self._served_cond.wait_for(lambda: len(self.served) >= count, timeout):
                raise TimeoutError(f"the server recorded {len(self.served)} generations, not {count}, in {timeout}s")
            return list(self.served)

    def _record(self, served: Served) -> None:
        with self._served_cond:
            self.served.append(served)
            self._served_cond.notify_all()

    def _track(self, conn: socket.socket, opened: bool) -> None:
        with self._served_cond:
            (self._connections.add if opened else self._connections.discard)(conn)
