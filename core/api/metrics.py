"""Counters and histograms for `/metrics`, written in the Prometheus text format (0.0.4) by hand: a dozen series
do not need a client library."""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from collections.abc import Callable

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
KNOWN_PATHS = frozenset({
    "/v1/chat/completions", "/v1/completions", "/v1/models", "/v1/embeddings", "/api/chat", "/api/generate",
    "/api/tags", "/api/embed", "/api/version", "/api/show", "/health", "/metrics",
})


class _Histogram:
    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS, value)] += 1
        self.total += value

    def lines(self, name: str, labels: str) -> list[str]:
        out, running = [], 0
        sep = "," if labels else ""
        for bound, count in zip([*map(str, LATENCY_BUCKETS), "+Inf"], self.counts):
            running += count
            out.append(f'{name}_bucket{{{labels}{sep}le="{bound}"}} {running}')
        out.append(f"{name}_sum{{{labels}}} {self.total:.6f}")
        out.append(f"{name}_count{{{labels}}} {running}")
        return out


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class ServerMetrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._latency: dict[str, _Histogram] = defaultdict(_Histogram)
        self._ttft: dict[str, _Histogram] = defaultdict(_Histogram)
        self._tokens: dict[tuple[str, str], int] = defaultdict(int)
        self._cache: dict[str, int] = defaultdict(int)
        self._finished: dict[tuple[str, str], int] = defaultdict(int)
        self._rejected: dict[str, int] = defaultdict(int)
        self._in_flight = 0

    def request(self, path: str, method: str, status: int, seconds: float) -> None:
        path = path if path in KNOWN_PATHS else "other"
        with self._lock:
            self._requests[(path, method, status)] += 1
            self._latency[path].observe(seconds)

    def in_flight(self, delta: int) -> None:
        with self._lock:
            self._in_flight += delta

    def rejected(self, reason: str) -> None:
        with self._lock:
            self._rejected[reason] += 1

    def generation(self, model: str, prompt_tokens: int, tokens: int, ttft_s: float, cache: str,
                   finish_reason: str) -> None:
        with self._lock:
            self._finished[(model, finish_reason)] += 1
            self._tokens[(model, "prompt")] += prompt_tokens
            self._tokens[(model, "completion")] += tokens
            self._cache[cache] += 1
            if cache == "miss":
                self._ttft[model].observe(ttft_s)

    def render(self, queue_depth: Callable[[], dict[str, int]]) -> str:
        depth = queue_depth()
        with self._lock:
            lines = ["# HELP edgemind_requests_total HTTP requests by path, method and status.",
                     "# TYPE edgemind_requests_total counter"]
            lines += [f'edgemind_requests_total{{path="{p}",method="{m}",status="{s}"}} {n}'
                      for (p, m, s), n in sorted(self._requests.items())]
            lines += ["# HELP edgemind_request_duration_seconds Time from request to the last byte of the answer.",
                      "# TYPE edgemind_request_duration_seconds histogram"]
            for path, hist in sorted(self._latency.items()):
                lines += hist.lines("edgemind_request_duration_seconds", f'path="{path}"')
            lines += ["# HELP edgemind_time_to_first_token_seconds Time to the first generated token (cache misses).",
                      "# TYPE edgemind_time_to_first_token_seconds histogram"]
            for model, hist in sorted(self._ttft.items()):
                lines += hist.lines("edgemind_time_to_first_token_seconds", f'model="{_escape(model)}"')
            lines += ["# HELP edgemind_tokens_total Tokens read (prompt) and generated (completion).",
                      "# TYPE edgemind_tokens_total counter"]
            lines += [f'edgemind_tokens_total{{model="{_escape(m)}",kind="{k}"}} {n}'
                      for (m, k), n in sorted(self._tokens.items())]
            lines += ["# HELP edgemind_generations_total Finished requests by model and finish reason (cancelled: the "
                      "client went away).", "# TYPE edgemind_generations_total counter"]
            lines += [f'edgemind_generations_total{{model="{_escape(m)}",finish_reason="{_escape(f)}"}} {n}'
                      for (m, f), n in sorted(self._finished.items())]
            lines += ["# HELP edgemind_answers_total Answers by where they came from (miss = generated).",
                      "# TYPE edgemind_answers_total counter"]
            lines += [f'edgemind_answers_total{{cache="{_escape(c)}"}} {n}' for c, n in sorted(self._cache.items())]
            lines += ["# HELP edgemind_rejected_total Requests refused before generation, by reason.",
                      "# TYPE edgemind_rejected_total counter"]
            lines += [f'edgemind_rejected_total{{reason="{r}"}} {n}' for r, n in sorted(self._rejected.items())]
            lines += ["# HELP edgemind_requests_in_flight HTTP requests being handled now.",
                      "# TYPE edgemind_requests_in_flight gauge", f"edgemind_requests_in_flight {self._in_flight}"]
        lines += ["# HELP edgemind_queue_depth Requests waiting for a model that is answering another.",
                  "# TYPE edgemind_queue_depth gauge"]
        lines += [f'edgemind_queue_depth{{model="{_escape(m)}"}} {n}' for m, n in sorted(depth.items())]
        return "\n".join(lines) + "\n"
