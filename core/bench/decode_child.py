"""One llama.cpp decode measurement in a process of its own: OpenMP reads its wait policy once, when it is loaded,
and a CPU variant cannot be swapped inside a process, so every (build, variant, policy) gets a fresh child.

Imports nothing from EdgeMind, so any interpreter with llama-cpp-python can run it as a file (a native build in
another virtual environment, for the portable-vs-native comparison). Prints one JSON object.

    python decode_child.py --model M.gguf --variant PATH|builtin --threads 2 --tokens 64 --repeats 5 [--compete]

With --compete each repeat is measured twice, alone and beside one CPU-bound process (a laptop is never idle), in
alternating order so drift on a shared machine hits both alike.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llama_cpp import Llama

PROMPT = ("<|im_start|>user\nWrite a short story about a lighthouse keeper who finds a message in a bottle."
          "<|im_end|>\n<|im_start|>assistant\n")
BUSY_LOOP = "while True:\n    pass\n"


def load_variant(variant: str) -> str:
    import llama_cpp

    if variant == "builtin":
        return "builtin"
    path = Path(variant)
    ggml = None
    if sys.platform.startswith("linux"):  # the copy libllama uses (see llama_native.loaded_ggml)
        with open("/proc/self/maps", encoding="utf-8") as maps:
            found = [ln.split(maxsplit=5)[-1].strip() for ln in maps if "/libggml.so" in ln]
        ggml = ctypes.CDLL(found[0]) if found else None
    if ggml is None:
        ggml = ctypes.CDLL(str(path.parent / ("ggml.dll" if sys.platform == "win32" else "libggml.so")))
    ggml.ggml_backend_load.restype = ctypes.c_void_p
    ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
    if not ggml.ggml_backend_load(str(path).encode()):
        raise SystemExit(json.dumps({"ok": False, "error": f"could not load {path.name}"}))
    del llama_cpp
    return path.name.split(".")[0].split("ggml-cpu-")[-1]


def peak_rss() -> int | None:
    """This process's peak resident set in bytes (None where the OS does not say): model, runtime and Python.

    Linux: VmHWM of /proc/self/status, which starts afresh at exec; getrusage's ru_maxrss does not, and would report
    the parent's peak when that was larger."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # macOS reports bytes, Linux KiB


def decode_once(llm: Llama, tokens: list[int], n_new: int) -> float:
    """Greedy decode of n_new tokens after the prompt; returns decode tok/s (the prompt's evaluation excluded)."""
    import llama_cpp
    import numpy as np

    llm.reset()
    llm.eval(tokens)
    n_vocab = llm.n_vocab()
    t0 = time.perf_counter()
    for _ in range(n_new):
        row = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(n_vocab,))
        llm.eval([int(np.argmax(row))])
    return n_new / (time.perf_counter() - t0)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--variant", default="builtin")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--compete", action="store_true")
    args = ap.parse_args(argv)
    name = load_variant(args.variant)
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(args.model), n_ctx=512, n_batch=512, n_threads=args.threads,
                          n_threads_batch=args.threads, verbose=False)
    tokens = llm.tokenize(PROMPT.encode(), add_bos=True, special=True)
    decode_once(llm, tokens, 8)  # warm-up
    idle: list[float] = []
    loaded: list[float] = []
    for repeat in range(args.repeats):
        order = ("idle", "loaded") if repeat % 2 == 0 else ("loaded", "idle")
        for condition in order if args.compete else ("idle",):
            if condition == "idle":
                idle.append(decode_once(llm, tokens, args.tokens))
                continue
            rival = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
            try:
                time.sleep(0.3)  # let the scheduler see it as a steady CPU hog
                loaded.append(decode_once(llm, tokens, args.tokens))
            finally:
                rival.kill()
                rival.wait()
    llm.close()
    out = {"ok": True, "variant": name, "threads": args.threads, "tokens": args.tokens,
           "idle_tok_s": idle, "idle_median": statistics.median(idle), "peak_rss_bytes": peak_rss()}
    if loaded:
        out.update(loaded_tok_s=loaded, loaded_median=statistics.median(loaded),
                   loaded_share=statistics.median(loaded) / statistics.median(idle))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
