"""GGUF LoRA export: logits of llama.cpp + the exported adapter against transformers + PEFT, Llama and Qwen2 bases.

How to run (needs the optional training stack: pip install 'edgemind[tune]')
    .venv/bin/python benchmarks/lora_agreement.py --out benchmarks/results/lora_agreement.json
    (default models: the bundled SmolLM2-135M (llama) and Qwen2.5-Coder-0.5B (qwen2) in EDGEMIND_MODELS_DIR or
    <EDGEMIND_HOME>/models; --model FILE, repeatable, to pick others)

Goal: Pearson r >= 0.999 between the two runtimes' adapted logits (every prompt position, whole vocabulary), and the
other q/k layout clearly below. Takes ~6 minutes and ~6 GB of memory for both models (the Qwen float32 copy is 2 GB
on disk, in a temporary folder). Exit status 0 unless something fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from edgemind.core.backends.llama_native import NativeGuard, import_llama, model_key
from edgemind.core.bench.lora_agreement import B_STDS, GOAL, PROMPT, measure, settings
from edgemind.core.bench.script import run_script, write_result
from edgemind.core.hardware import cpu_name

DEFAULT_FILES = ("smollm2-135m-instruct-q4_1.gguf", "qwen2.5-coder-0.5b-instruct.gguf")
PACKAGES = ("llama-cpp-python", "torch", "transformers", "peft", "gguf")


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    models = Path(os.environ.get("EDGEMIND_MODELS_DIR") or Path(os.environ.get("EDGEMIND_HOME", "~")) / "models")
    ap.add_argument("--model", type=Path, action="append", help="a base GGUF (default: the two bundled models)")
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--alpha", type=int, default=16)
    ap.add_argument("--b-std", type=float, action="append",
                    help=f"standard deviation of the random LoRA B, repeatable (default: {B_STDS})")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    files = args.model or [models.expanduser() / name for name in DEFAULT_FILES]
    b_stds = tuple(args.b_std or B_STDS)
    import torch

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    started = time.monotonic()
    result: dict[str, object] = {
        "command": ["benchmarks/lora_agreement.py"] + (argv if argv is not None else sys.argv[1:]),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu": cpu_name(),
        "versions": {name: _version(name) for name in PACKAGES},
        "settings": settings(rank=args.rank, alpha=args.alpha, b_stds=b_stds, seed=args.seed, prompt=PROMPT),
        "goal": GOAL,
    }
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        guard = NativeGuard(Path(os.environ.get("EDGEMIND_ARTIFACTS_DIR") or tmp) / "native")
        for path in files:
            llama = import_llama(guard.variant_for(path, model_key(None, path)))
            run = measure(path, llama, rank=args.rank, alpha=args.alpha, b_stds=b_stds, seed=args.seed,
                          workdir=Path(tmp), progress=lambda m: print(m, file=sys.stderr))
            runs.append(run)
            for strength in run["strengths"]:
                for layout, by_base in strength["layouts"].items():
                    for kind in ("float32", "shipped"):
                        fig = by_base[kind]
                        print(f"{run['file']} B std {strength['b_std']} {layout:16} {kind:8} "
                              f"r={fig['correlation']:.5f} delta r={fig['delta_correlation']:.5f} "
                              f"max|diff|={fig['max_abs_diff']:.3f} base r={fig['base_correlation']:.5f} "
                              f"shift={fig['adapter_shift']:.4f}")
    result["models"] = runs
    result["duration_s"] = round(time.monotonic() - started, 1)
    if args.out:
        write_result(args.out, result)
    return 0


if __name__ == "__main__":
    run_script(main)
