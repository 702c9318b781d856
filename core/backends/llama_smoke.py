"""The child process that tries llama.cpp's native code so the parent never has to: `score` ranks the CPU variants,
`smoke` evaluates a multi-token prompt at two or more threads (the shape of the SIGILL that AMX code hit) and samples
a few tokens. A crash kills only this process; the parent reads its exit status. Prints one JSON line on success.
"""

from __future__ import annotations

import ctypes
import json
import sys
import time
from pathlib import Path

import numpy as np

from .llama_native import BUILTIN, Variant, import_gpu, import_llama, library_name, variant_files, variant_name

# Long enough for a batched multi-token evaluation (the AMX path only ran for prompts of 2+ tokens).
SMOKE_PROMPT = ("<|im_start|>user\nWrite one short sentence about the sea, the sky and the mountains in spring."
                "<|im_end|>\n<|im_start|>assistant\n")
SMOKE_NEW_TOKENS = 4


def score(folder: Path) -> dict[str, object]:
    # libggml-base first, so each variant finds it already loaded wherever the loader looks
    base = folder / library_name("ggml-base")
    if base.exists():
        ctypes.CDLL(str(base), mode=getattr(ctypes, "RTLD_GLOBAL", 0))
    variants = []
    for path in variant_files(folder):
        lib = ctypes.CDLL(str(path))
        fn = getattr(lib, "ggml_backend_score", None)
        value = 0
        if fn is not None:
            fn.restype = ctypes.c_int
            value = int(fn())
        variants.append({"name": variant_name(path), "score": value})
    return {"ok": True, "variants": variants}


def smoke(variant: str, model: Path, threads: int, gpu: Path | None = None) -> dict[str, object]:
    chosen = Variant(BUILTIN, None) if variant == BUILTIN else Variant(Path(variant).name, Path(variant))
    llama_cpp = import_llama(chosen)
    if gpu is not None:
        import_gpu(gpu)
        if not llama_cpp.llama_supports_gpu_offload():
            return {"ok": False, "error": f"{gpu.name} found no GPU device"}
    started = time.perf_counter()
    llm = llama_cpp.Llama(model_path=str(model), n_ctx=256, n_batch=64, n_threads=threads, n_threads_batch=threads,
                          n_gpu_layers=-1 if gpu is not None else 0, verbose=False)
    tokens = llm.tokenize(SMOKE_PROMPT.encode(), add_bos=True, special=True)
    llm.eval(tokens)
    n_vocab = llm.n_vocab()
    picked = []
    for _ in range(SMOKE_NEW_TOKENS):
        row = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(n_vocab,))
        if not np.isfinite(row).all():
            # wrong native code can also compute garbage instead of crashing
            return {"ok": False, "error": "the model's output scores are not finite numbers"}
        token = int(np.argmax(row))
        picked.append(token)
        llm.eval([token])
    llm.close()
    return {"ok": True, "prompt_tokens": len(tokens), "new_tokens": picked,
            "ms": round((time.perf_counter() - started) * 1000, 1)}


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["score"] and len(argv) == 2:
            result = score(Path(argv[1]))
        elif argv[:1] == ["smoke"] and len(argv) in (4, 5):
            result = smoke(argv[1], Path(argv[2]), int(argv[3]), Path(argv[4]) if len(argv) == 5 else None)
        else:
            print(json.dumps({"ok": False, "error": "usage: score LIB_DIR | smoke VARIANT MODEL THREADS [GPU_LIB]"}))
            return 2
    except Exception as exc:  # reported to the parent as data; a crash shows as the exit status instead
        print(json.dumps({"ok": False, "error": f"{exc.__class__.__name__}: {exc}"[:300]}))
        return 1
    print(json.dumps(result))
    sys.stdout.flush()
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
