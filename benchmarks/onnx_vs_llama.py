"""onnx_int4 vs llama.cpp on the same GGUF: decode tok/s and TTFT, same threads, prompt and token count.

How to run
    .venv/bin/python benchmarks/onnx_vs_llama.py --model /path/to/model.gguf --repeats 5 --tokens 64 --out FILE.json
    (default model: the bundled SmolLM2 in EDGEMIND_MODELS_DIR or <EDGEMIND_HOME>/models)

ABBA order, one warm-up of each side, medians over repeats; the ratio (onnx / llama.cpp) is taken within the run so a
busy machine slows both sides alike. Built ONNX models are cached in <data>/onnx (a temporary data folder unless
EDGEMIND_HOME is set). Goal: decode ratio >= 1.0. Exit status 0 unless something fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from edgemind.core.bench.onnx_speed import compare_speed
from edgemind.core.bench.script import run_script, write_result
from edgemind.core.hardware import physical_cores


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    models = Path(os.environ.get("EDGEMIND_MODELS_DIR") or Path(os.environ.get("EDGEMIND_HOME", "~")) / "models")
    ap.add_argument("--model", type=Path, default=models.expanduser() / "smollm2-135m-instruct-q4_1.gguf")
    ap.add_argument("--threads", type=int, default=physical_cores())
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--weights", choices=["int4", "accurate"], default="accurate", help="onnx_int4 weight preset")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    home = os.environ.get("EDGEMIND_HOME")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(home).expanduser() if home else Path(tmp)
        result = compare_speed(args.model, data_dir=data, threads=args.threads, new_tokens=args.tokens,
                               repeats=args.repeats, weights=args.weights, progress=lambda m: print(m, file=sys.stderr))
    print(result.summary())
    if args.out:
        write_result(args.out, result.as_dict())
    return 0


if __name__ == "__main__":
    run_script(main)
