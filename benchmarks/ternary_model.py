"""The ternary path end to end: a tiny Llama trained with BitNet b1.58 QAT, exported as TQ2_0/TQ1_0 GGUF, run by
llama.cpp and by our T-MAC forward pass.

    .venv/bin/python benchmarks/ternary_model.py [--steps 400] [--threads 1] [--repeats 5] [--smollm M.gguf]
        [--work DIR] [--save-model FILE.gguf] [--out FILE.json]

Trains the same model twice from the same seed (plain fp32, then ternary QAT) on CPython's documentation topics
(a seeded by-topic split), then: held-out perplexity in torch (float, QAT), llama.cpp (TQ2_0, TQ1_0, F16 of the
same ternary weights, an untrained model) and our path (kernels/lut_forward.py: T-MAC LUT kernels for the ternary
matrices); file sizes; llama.cpp decode tok/s and peak RSS for TQ2_0, Q8_0 and F16 (fresh child per run, same
threads, ABBA, medians); a 1B ternary model's memory projected from the measured bytes per parameter; and, with
--smollm, SmolLM2-135M's perplexity before and after post-training ternarization.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from edgemind.core.backends.llama_native import NativeCodeError, NativeGuard, import_llama, model_key
from edgemind.core.bench.script import run_script, write_result
from edgemind.core.bench.ternary_model import BenchConfig, run
from edgemind.core.errors import EdgeMindError

DEFAULTS = BenchConfig()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=DEFAULTS.steps)
    ap.add_argument("--threads", type=int, default=DEFAULTS.threads)
    ap.add_argument("--repeats", type=int, default=DEFAULTS.repeats)
    ap.add_argument("--seed", type=int, default=DEFAULTS.seed)
    ap.add_argument("--smollm", type=Path, help="SmolLM2-135M GGUF for the post-training ternarization check")
    ap.add_argument("--work", type=Path, help="keep the model files here (default: a temporary folder)")
    ap.add_argument("--save-model", type=Path, help="copy the trained TQ2_0 GGUF here")
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args(argv)
    if args.smollm is not None and not args.smollm.is_file():
        print(f"error: no such model file: {args.smollm}", file=sys.stderr)
        return 2
    cfg = BenchConfig(steps=args.steps, threads=args.threads, repeats=args.repeats, seed=args.seed,
                      smollm=args.smollm)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp) / "models"
        guard = NativeGuard(Path(tmp) / "native")

        def llama_for(paths: list[Path]) -> tuple[ModuleType, str]:
            # one CPU variant for every file, in this process and in the decode children: the least capable of
            # those the guard's test runs chose (on this VM sapphirerapids runs TQ2_0 but dies on Q8_0)
            ranked = guard.variants()
            chosen = [guard.check(p, model_key(None, p)) for p in paths]
            missing = [p.name for p, c in zip(paths, chosen) if c.variant is None]
            if missing:
                raise NativeCodeError(f"no llama.cpp CPU code runs {', '.join(missing)} on this machine")
            order = [v.name for v in ranked]
            variant = ranked[max(order.index(str(c.variant)) for c in chosen)]
            return import_llama(variant), str(variant.path) if variant.path is not None else "builtin"

        try:
            result = run(cfg, work, llama_for)
        except EdgeMindError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if args.save_model:
            model = work / "tiny-ternary-tq2_0.gguf"
            shutil.copyfile(model, args.save_model)
            result["saved_model"] = {"path": args.save_model.as_posix(),
                                     "sha256": hashlib.sha256(model.read_bytes()).hexdigest()}
    # the command as the docs print it: the model folder as <models>, no scratch folder
    words = list(argv if argv is not None else sys.argv[1:])
    shown: list[str] = []
    for i, word in enumerate(words):
        if word == "--work" or (i and words[i - 1] == "--work"):
            continue
        shown.append(f"<models>/{Path(word).name}" if i and words[i - 1] == "--smollm" else word)
    result["command"] = " ".join(["ternary_model.py", *shown])
    ppl = result["perplexity"]
    print(json.dumps({k: round(v["perplexity"], 2) if isinstance(v, dict) else v for k, v in ppl.items()}))
    print(f"ours vs llama.cpp: {result['ours_vs_llama_cpp']}")
    if args.out:
        write_result(args.out, result)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    run_script(main)
