"""EdgeMind engine vs raw llama-cpp-python: same model, same prompt, same threads, one run, reported as ratios.

What it measures
    For each repeat, one chat request (system + user message, greedy decoding, the engine's sampling defaults
    top_p 0.95 / top_k 40 / repeat_penalty 1.1) goes through two paths on the same GGUF file:

    * raw    - `llama_cpp.Llama.create_chat_completion(stream=True)` on a Llama built with the settings the engine's
               backend uses (n_ctx, n_threads, n_threads_batch, n_batch=512);
    * engine - `Engine.stream(prompt, AskOptions(..., store=True))` with the answer cache and its semantic tier
               on: everything a real request that misses the cache does, in order: the input safety check,
               routing (which embeds the prompt), the answer-cache lookups (L1 in memory, L2 in SQLite, then the
               semantic tier's search, which reuses the router's embedding), context trimming, the SQLite
               conversation writes, chat template, generation, detokenizing, and after the last token the output
               safety check, the cache store and the audit record. Every request is a prompt new to the run, and a
               request answered from any cache tier aborts the run: the TTFT is a miss's.
               `--no-cache-lookup` asks with `use_cache=False` instead, which skips the L1/L2 lookups and the
               semantic search (the prompt is still embedded for the semantic tier and the answer stored): the
               pipeline this benchmark measured before 2026-12-05.

    Both are timed from the consumer side, identically: t0 just before the call, t_first at the first non-empty
    content chunk, t_last at the last one.
        TTFT          = t_first - t0
        decode tok/s  = (generated tokens - 1) / (t_last - t_first)
    Generated tokens: the engine's Done.metrics.tokens; for raw, the tokens llama.cpp evaluated for the answer
    (read back from the Llama after the run; content chunks are also counted, they can merge tokens).

    Goals checked (reported, not enforced): engine decode tok/s >= 0.95x raw, engine TTFT <= 1.10x raw.

Fairness
    The two paths use two separate Llama instances (each keeps its own KV prefix cache); each is warmed up with one
    untimed request. Every repeat uses a different user prompt, the same one for both paths; the side that goes
    first alternates (ABBA) to cancel drift. Medians over repeats and the median of the per-repeat (paired) ratios
    are reported. The verdict uses the position-balanced ratio: the geometric mean of the median per-repeat ratio
    over repeats where raw went first and over those where the engine went first. Position alone moves TTFT by up
    to ~10% (in ABBA order the first side of a repeat follows its own previous request with warm CPU caches, the
    second switches to the other Llama instance; after a --wait-idle pause the first one starts cold instead),
    which an odd repeat count would otherwise leave in a plain median.

    Each request also records how much CPU *other* processes used meanwhile: on a 2-core machine a busy neighbour
    (a test run, a browser) slows llama.cpp's threads by 5-40x and makes the comparison meaningless, so a run with
    other processes above 10% is flagged as noisy (--wait-idle waits for quiet before each repeat, --retry-noisy
    redoes a repeat that was disturbed anyway).

How to run
    .venv/bin/python benchmarks/engine_vs_raw.py
    .venv/bin/python benchmarks/engine_vs_raw.py --repeats 9 --json benchmarks/out/engine_vs_raw.json
    .venv/bin/python benchmarks/engine_vs_raw.py --models-dir ~/.local/share/EdgeMind/models   # reuse installed models
    .venv/bin/python benchmarks/engine_vs_raw.py --breakdown   # plus: where each side's time goes, stage by stage
    .venv/bin/python benchmarks/engine_vs_raw.py --wait-idle 120 --retry-noisy 10   # on a shared, busy machine
    .venv/bin/python benchmarks/engine_vs_raw.py --quick --json benchmarks/results/engine_vs_raw.json
                                                                     # 4 repeats of 32 tokens (~1 minute)

    Without EDGEMIND_HOME a temporary data folder is used (and removed); with it, that data folder is used and the
    benchmark's conversations and cache entries are stored in it. The bundled model is installed into
    <home>/models on first use (a few seconds for the 491 MB default) unless --models-dir points at installed models.
    The exit status is 0 unless something fails (then 1): this reports, it does not gate CI.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from edgemind.core.bench.engine_overhead import OverheadOptions, compare_engine_and_raw
from edgemind.core.bench.script import run_script, write_result
from edgemind.core.bench.timing import NOISY_PCT
from edgemind.core.hardware import physical_cores
from edgemind.core.settings import DEFAULT_MODEL, load_settings


@contextmanager
def _home(env: dict[str, str]) -> Iterator[Path]:
    if env.get("EDGEMIND_HOME"):
        yield Path(env["EDGEMIND_HOME"]).expanduser()
        return
    with tempfile.TemporaryDirectory(prefix="edgemind-bench-") as tmp:
        yield Path(tmp)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL, help=f"model id (default {DEFAULT_MODEL})")
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats per side (default 5)")
    ap.add_argument("--max-tokens", type=int, default=128, help="tokens to generate per request (default 128)")
    ap.add_argument("--quick", action="store_true", help="4 repeats (2 each side first) of 32 tokens; overrides both")
    ap.add_argument("--threads", type=int, default=physical_cores(),
                    help=f"llama.cpp threads for both sides (default: physical cores = {physical_cores()})")
    ap.add_argument("--models-dir", type=Path, default=None,
                    help="where models are / get installed (default <EDGEMIND_HOME>/models)")
    ap.add_argument("--json", dest="json_out", type=Path, default=None, help="write all samples + summary here")
    ap.add_argument("--no-cache-lookup", action="store_true",
                    help="ask with use_cache=False (no L1/L2/semantic lookups), as this benchmark did before")
    ap.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                    help="before each repeat, wait up to this long for other processes to go quiet (default 0)")
    ap.add_argument("--retry-noisy", type=int, default=0, metavar="N",
                    help=f"redo a repeat (up to N times in all) when other processes took over {NOISY_PCT:.0f}%% "
                         "of the CPU during it; the discarded pairs still go to --json (default 0)")
    ap.add_argument("--breakdown", action="store_true",
                    help="afterwards, split each side's time into llama.cpp work and the Python around it "
                         "(SQLite, template, tokenize; per token) with a few extra instrumented requests")
    args = ap.parse_args(argv)
    if args.quick:
        args.repeats, args.max_tokens = 4, 32
    if args.repeats < 1 or args.max_tokens < 2 or args.threads < 1:
        ap.error("--repeats >= 1, --max-tokens >= 2 and --threads >= 1 are required")
    options = OverheadOptions(model=args.model, threads=args.threads, repeats=args.repeats,
                              max_tokens=args.max_tokens, wait_idle_s=args.wait_idle, retry_noisy=args.retry_noisy,
                              breakdown=args.breakdown, cache_lookup=not args.no_cache_lookup)
    env = {k: v for k, v in os.environ.items() if k.startswith("EDGEMIND_")}
    with _home(env) as home:
        env["EDGEMIND_HOME"] = str(home)
        env["EDGEMIND_MODELS_DIR"] = str(args.models_dir.expanduser() if args.models_dir else home / "models")
        run = compare_engine_and_raw(load_settings(env=env), options, lambda m: print(m, file=sys.stderr))
    print(run.text())
    if args.json_out:
        write_result(args.json_out, run.as_dict())
        print(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    run_script(main, also=(RuntimeError,))
