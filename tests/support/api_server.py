"""`edgemind serve`'s own application, run by uvicorn on a free loopback port in a thread, for tests.

    with ApiServer(engine, api_key="...") as server:
        OpenAI(base_url=server.url + "/v1", api_key=...) ...   # or ollama.Client(host=server.url, headers=...)

`metric(name, **labels)` reads a value from the server's own /metrics, so a test can check what the server saw
(e.g. that a client disconnect cancelled the generation) without reaching into it.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Any

import httpx

from edgemind.core.api import BackgroundServer, ServerConfig
from edgemind.core.engine.facade import Engine


class ApiServer:
    def __init__(self, engine: Engine, *, api_key: str, **config: Any) -> None:
        self.api_key = api_key
        self.config = replace(ServerConfig(api_key=api_key), port=0, **config)  # port 0: a free one
        self._server = BackgroundServer(engine, self.config)
        self.url = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def start(self) -> "ApiServer":
        self._server.start()
        self.url = self._server.url
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> "ApiServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the series `name` whose labels include `labels` (0 when there is none)."""
        deadline = time.monotonic() + 30
        while True:  # /metrics is keyed, so it shares the key's rate limit: back off as a scraper would
            response = httpx.get(self.url + "/metrics", headers=self.headers, timeout=10)
            if response.status_code != 429 or time.monotonic() > deadline:
                break
            time.sleep(float(response.headers.get("retry-after", "1")))
        assert response.status_code == 200, f"/metrics answered {response.status_code}: {response.text[:200]}"
        text = response.text
        total = 0.0
        for line in text.splitlines():
            match = re.match(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)$", line)
            if not match:
                continue
            found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(1) or ""))
            if all(found.get(k) == v for k, v in labels.items()):
                total += float(match.group(2))
        return total

    def wait_metric(self, name: str, at_least: float, timeout: float = 30.0, **labels: str) -> float:
        deadline = time.monotonic() + timeout
        while True:
            value = self.metric(name, **labels)
            if value >= at_least or time.monotonic() > deadline:
                return value
            time.sleep(0.05)
