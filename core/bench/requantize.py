"""Lower-bit copies of a bundled GGUF made with llama.cpp's own quantizer, for benchmarks that need the same model at
other bit widths (issue 22: "the same table for Qwen at 4-bit and 8-bit").

Only the Qwen2.5-Coder file (mostly Q5_0) ships, so its 4-bit and 8-bit forms are derived from it: every tensor is
dequantized and quantized again by `llama_model_quantize` (`allow_requantize`). Their quality is therefore below the
shipped file's (two roundings, the second from already-rounded weights); they measure speed and agreement with
llama.cpp on the same file, never the model's quality. llama.cpp still picks a type per tensor (an output matrix whose
rows do not split into 256-weight super-blocks becomes Q8_0, for one), so the file's `layouts` say what ran.
The quantizer is native code: it runs in a child process (a crash costs the child), once per source and type; the
result is kept in a work folder (never committed) and reused while it is newer than its source.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# our names -> llama.cpp's LLAMA_FTYPE_MOSTLY_* (the formats the tmac converters take exactly, and Q8_0)
FTYPES = {"q4_0": 2, "q4_1": 3, "q8_0": 7}


class RequantizeError(RuntimeError):
    """llama.cpp could not make the requested file; the message names the file, the type and the reason."""


def requantized_path(source: Path, kind: str, work: Path) -> Path:
    """Where the `kind` copy of `source` lives in `work`."""
    return work / f"{source.stem}-requant-{kind}.gguf"


def requantize(source: Path, kind: str, work: Path, *, threads: int = 1, timeout_s: float = 1800.0) -> Path:
    """The `kind` (q4_0, q4_1, q8_0) copy of `source` in `work`, made now unless a copy newer than the source is
    there; RequantizeError when the type is unknown or llama.cpp fails."""
    if kind not in FTYPES:
        raise RequantizeError(f"no requantization to {kind!r} (choose from {', '.join(FTYPES)})")
    if not source.is_file():
        raise RequantizeError(f"no model file at {source}")
    out = requantized_path(source, kind, work)
    if out.is_file() and out.stat().st_mtime >= source.stat().st_mtime:
        return out
    work.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    done = subprocess.run([sys.executable, "-m", "edgemind.core.bench.requantize", str(source), str(partial), kind,
                           str(threads)], capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise RequantizeError(f"llama.cpp could not requantize {source.name} to {kind}: {last}")
    partial.replace(out)
    return out


def _child(source: str, target: str, kind: str, threads: int) -> int:
    import ctypes

    from ..backends.llama_native import import_llama  # lazy: only the quantizing child loads llama.cpp

    llama_cpp = import_llama(None)
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FTYPES[kind]
    params.allow_requantize = True
    params.nthread = threads
    status = llama_cpp.llama_model_quantize(source.encode(), target.encode(), ctypes.byref(params))
    print(json.dumps({"status": int(status)}))
    return 0 if status == 0 else 1


if __name__ == "__main__":  # the child: source target kind threads
    sys.exit(_child(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
