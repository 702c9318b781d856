"""`edgemind serve` against `python -m llama_cpp.server` on the same model, under 1..N concurrent clients.

Both servers run at once on loopback as child processes; benchmarks/api_load.py is its command. Measures only:
the servers get a temporary data folder and are stopped afterwards, whatever happens.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from ..engine.facade import open_registry
from ..settings import Settings

KEY = "bench-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, proc: subprocess.Popen[bytes], path: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering")
        try:
            if httpx.get(url + path, headers={"Authorization": f"Bearer {KEY}"}, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up in {timeout:.0f} s")


async def level(url: str, model: str, clients: int, per_client: int, max_tokens: int, tag: str) -> dict[str, float]:
    """`clients` clients, each sending `per_client` distinct requests one after another: throughput and latency."""
    latencies: list[float] = []
    tokens = 0

    async def client(http: httpx.AsyncClient, c: int) -> None:
        nonlocal tokens
        for i in range(per_client):
            body = {"model": model, "max_tokens": max_tokens, "temperature": 0,
                    "messages": [{"role": "user",
                                  "content": f"Request {tag}-{c}-{i}: write a short poem about the sea."}]}
            t0 = time.perf_counter()
            r = await http.post(url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"})
            latencies.append(time.perf_counter() - t0)
            r.raise_for_status()
            tokens += r.json()["usage"]["completion_tokens"]

    async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=clients)) as http:
        t0 = time.perf_counter()
        await asyncio.gather(*[client(http, c) for c in range(clients)])
        wall = time.perf_counter() - t0
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(round(0.99 * (len(latencies) - 1))))]
    return {"tok_s": tokens / wall, "req_s": len(latencies) / wall, "p50_s": statistics.median(latencies),
            "p99_s": p99, "tokens": tokens}


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def measure_server_load(settings: Settings, *, model: str, max_tokens: int = 32, repeats: int = 3,
                        levels: Sequence[int] = (1, 4, 8),
                        progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """Both servers on `model`'s file with the same threads and context; per level the medians over `repeats`
    (the two servers alternate which goes first), and the 1-minute load average before and after each level."""
    home = Path(tempfile.mkdtemp(prefix="api-bench-"))
    registry, _ = open_registry(settings)
    spec = registry.get(model)
    path = registry.prepare(spec)
    threads = settings.effective_threads
    n_ctx = min(settings.context_length, spec.context_length or settings.context_length)
    env = {**os.environ, "EDGEMIND_HOME": str(home), "EDGEMIND_MODELS_DIR": str(settings.models_dir),
           "EDGEMIND_ARTIFACTS_DIR": str(settings.artifacts_dir), "EDGEMIND_API_KEY": KEY, "EDGEMIND_CACHE": "0",
           "EDGEMIND_API_RATE_LIMIT": "0", "EDGEMIND_MAX_QUEUED_REQUESTS": "64"}
    ours_port, theirs_port = free_port(), free_port()
    ours = subprocess.Popen([sys.executable, "-m", "edgemind.core.cli", "serve", "--port", str(ours_port)], env=env,
                            stderr=subprocess.DEVNULL)
    theirs = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--host", "127.0.0.1",
                               "--port", str(theirs_port), "--n_ctx", str(n_ctx), "--n_threads", str(threads),
                               "--n_threads_batch", str(threads), "--n_batch", "512", "--api_key", KEY,
                               "--model_alias", model], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    servers = {"edgemind": f"http://127.0.0.1:{ours_port}", "llama_cpp.server": f"http://127.0.0.1:{theirs_port}"}
    try:
        wait_up(servers["edgemind"], ours, "/health")
        wait_up(servers["llama_cpp.server"], theirs, "/v1/models")
        for name, url in servers.items():  # load the model in each before timing
            asyncio.run(level(url, model, 1, 1, 4, f"warm-{name}"))
        results: dict[str, dict[str, dict[str, float]]] = {}
        loads: dict[str, list[float]] = {}
        for clients in levels:
            per_client = max(2, 8 // clients) if clients < 8 else 2
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
            load_before = os.getloadavg()[0]
            for r in range(repeats):
                order = list(servers) if r % 2 == 0 else list(reversed(servers))
                for name in order:
                    runs[name].append(asyncio.run(level(servers[name], model, clients, per_client, max_tokens,
                                                        f"{name}-{clients}-{r}")))
            for name, rs in runs.items():
                results.setdefault(name, {})[str(clients)] = {k: statistics.median(x[k] for x in rs) for k in rs[0]}
            ours_r, theirs_r = results["edgemind"][str(clients)], results["llama_cpp.server"][str(clients)]
            # Other work on the machine skews both servers: the 1-minute load average, before and after the level.
            loads[str(clients)] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
            progress(f"{clients} client(s), {clients * per_client} requests x {repeats}: "
                     f"edgemind {ours_r['tok_s']:.1f} tok/s p50 {ours_r['p50_s'] * 1000:.0f} ms p99 "
                     f"{ours_r['p99_s'] * 1000:.0f} ms | llama_cpp.server {theirs_r['tok_s']:.1f} tok/s p50 "
                     f"{theirs_r['p50_s'] * 1000:.0f} ms p99 {theirs_r['p99_s'] * 1000:.0f} ms | throughput ratio "
                     f"{ours_r['tok_s'] / theirs_r['tok_s']:.2f}x | load average "
                     f"{loads[str(clients)][0]:.1f}->{loads[str(clients)][1]:.1f}")
        return {"model": model, "max_tokens": max_tokens, "threads": threads, "cpus": os.cpu_count(),
                "load_average": loads, "results": results}
    finally:
        for proc in (ours, theirs):
            _stop(proc)
