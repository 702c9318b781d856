"""Load on `edgemind serve` against `python -m llama_cpp.server` on the same model, in the same run.

Both servers run at once on loopback (the idle one costs no CPU); for each concurrency level (1, 4, 8 clients, each
sending its requests one after another) the two are measured alternately, `--repeats` times, and the medians are
reported: completion tokens/s over the wall time, requests/s, p50/p99 request latency. Every prompt is distinct, so
EdgeMind's answer cache never answers (it is also turned off), and both servers generate at temperature 0. Requests
name the model (not "auto"), so both answer with the same file; EdgeMind's router still embeds each prompt to pick
the intent's system prompt, as it does for every request. The 1-minute load average is printed with each level:
other work on the machine skews the figures (repeat when it is high).

    .venv/bin/python benchmarks/api_load.py [--model smollm2-135m-instruct] [--max-tokens 32] [--repeats 3]

Needs llama-cpp-python's server extras: pip install -e ".[bench]".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from edgemind.core.engine.facade import open_registry
from edgemind.core.settings import load_settings

KEY = "bench-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, proc: subprocess.Popen[bytes], path: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode} before answering")
        try:
            if httpx.get(url + path, headers={"Authorization": f"Bearer {KEY}"}, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not come up in {timeout:.0f} s")


async def level(url: str, model: str, clients: int, per_client: int, max_tokens: int, tag: str) -> dict[str, float]:
    latencies: list[float] = []
    tokens = 0

    async def client(http: httpx.AsyncClient, c: int) -> None:
        nonlocal tokens
        for i in range(per_client):
            body = {"model": model, "max_tokens": max_tokens, "temperature": 0,
                    "messages": [{"role": "user", "content": f"Request {tag}-{c}-{i}: write a short poem about the sea."}]}
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--levels", default="1,4,8")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="api-bench-"))
    settings = load_settings()
    registry, _ = open_registry(settings)
    spec = registry.get(args.model)
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
                               "--model_alias", args.model], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    servers = {"edgemind": f"http://127.0.0.1:{ours_port}", "llama_cpp.server": f"http://127.0.0.1:{theirs_port}"}
    try:
        wait_up(servers["edgemind"], ours, "/health")
        wait_up(servers["llama_cpp.server"], theirs, "/v1/models")
        for name, url in servers.items():  # load the model in each before timing
            asyncio.run(level(url, args.model, 1, 1, 4, f"warm-{name}"))
        results: dict[str, dict[str, dict[str, float]]] = {}
        loads: dict[str, list[float]] = {}
        for clients in [int(c) for c in args.levels.split(",")]:
            per_client = max(2, 8 // clients) if clients < 8 else 2
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
            load_before = os.getloadavg()[0]
            for r in range(args.repeats):
                order = list(servers) if r % 2 == 0 else list(reversed(servers))
                for name in order:
                    runs[name].append(asyncio.run(level(servers[name], args.model, clients, per_client,
                                                        args.max_tokens, f"{name}-{clients}-{r}")))
            for name, rs in runs.items():
                results.setdefault(name, {})[str(clients)] = {k: statistics.median(x[k] for x in rs) for k in rs[0]}
            ours_r, theirs_r = results["edgemind"][str(clients)], results["llama_cpp.server"][str(clients)]
            # Other work on the machine skews both servers: the 1-minute load average, before and after the level.
            loads[str(clients)] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
            print(f"{clients} client(s), {clients * per_client} requests x {args.repeats}: "
                  f"edgemind {ours_r['tok_s']:.1f} tok/s p50 {ours_r['p50_s'] * 1000:.0f} ms p99 "
                  f"{ours_r['p99_s'] * 1000:.0f} ms | llama_cpp.server {theirs_r['tok_s']:.1f} tok/s p50 "
                  f"{theirs_r['p50_s'] * 1000:.0f} ms p99 {theirs_r['p99_s'] * 1000:.0f} ms | throughput ratio "
                  f"{ours_r['tok_s'] / theirs_r['tok_s']:.2f}x | load average "
                  f"{loads[str(clients)][0]:.1f}->{loads[str(clients)][1]:.1f}", flush=True)
        if args.out:
            Path(args.out).write_text(json.dumps({"model": args.model, "max_tokens": args.max_tokens,
                                                  "threads": threads, "cpus": os.cpu_count(), "load_average": loads,
                                                  "results": results}, indent=2))
    finally:
        for proc in (ours, theirs):
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
