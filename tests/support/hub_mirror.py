"""A local stand-in for the Hugging Face hub on 127.0.0.1: serves real files at `/<repo>/resolve/<rev>/<file>` with
HTTP Range, and can misbehave on purpose (drop the connection halfway, serve other bytes, ignore Range)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class MirrorState:
    files: dict[str, Path]  # URL path -> file served
    mode: str = "ok"  # ok | drop_once | drop_always | wrong_bytes | no_range | slow
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    drops: int = 0
    redirect: bool = False  # answer /resolve/ paths with a 302 to /cdn/..., as huggingface.co does


def _handler(state: MirrorState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            state.requests.append((self.path, self.headers.get("Range")))
            if state.redirect and not self.path.startswith("/cdn/"):  # the hub answers with a redirect to its CDN
                self.send_response(302)
                self.send_header("Location", "/cdn" + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            source = state.files.get(self.path.removeprefix("/cdn") if state.redirect else self.path)
            if source is None:
                self.send_error(404)
                return
            data = source.read_bytes()
            if state.mode == "wrong_bytes":
                data = data[:-4096] + bytes(4096)
            start = 0
            match = re.match(r"bytes=(\d+)-$", self.headers.get("Range") or "")
            if match and state.mode != "no_range":
                start = int(match.group(1))
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            drop = state.mode == "drop_always" or (state.mode == "drop_once" and state.drops == 0)
            if drop:  # half the body, then the connection dies: what a flaky network does
                state.drops += 1
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            if state.mode == "slow":  # 1 MB every 50 ms: a pull that is still running when the user stops it
                for i in range(0, len(body), 1 << 20):
                    self.wfile.write(body[i:i + (1 << 20)])
                    time.sleep(0.05)
                return
            self.wfile.write(body)

    return Handler


@contextmanager
def hub_mirror(files: dict[str, Path], mode: str = "ok") -> Iterator[tuple[str, MirrorState]]:
    """Run the mirror for the block; yields its base URL and its state (switch `mode` between pulls)."""
    state = MirrorState(files=files, mode=mode)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
