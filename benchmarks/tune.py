"""`edgemind tune` on the bundled SmolLM2-135M: speed per step, held-out and general-text perplexity before/after,
and whether llama.cpp with the exported adapter answers a made-up fact it was never told before.

How to run (needs the optional training stack: pip install 'edgemind[tune]')
    .venv/bin/python benchmarks/tune.py --out benchmarks/results/tune.json
    (the model from EDGEMIND_MODELS_DIR or <EDGEMIND_HOME>/models; --threads, --steps, --lr as `edgemind tune`)

The data: ten wordings of one question about a made-up product codename, each with the same answer; `edgemind
tune` holds 15% out. Three other wordings, never trained on, are then asked through llama.cpp greedily with and
without the adapter. Takes 2-4 minutes on one thread; exit status 0 unless something fails.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

from edgemind.core.backends.llama_native import NativeGuard, import_llama, model_key
from edgemind.core.bench.script import run_script, write_result
from edgemind.core.hardware import cpu_name
from edgemind.core.tuning.data import Example
from edgemind.core.tuning.gguf_lora import export_lora
from edgemind.core.tuning.trainer import REGRESSION_LIMIT, TuneProgress, TuneRequest, default_steps, tune

MODEL_FILE = "smollm2-135m-instruct-q4_1.gguf"
PACKAGES = ("torch", "transformers", "peft", "gguf", "llama-cpp-python")
CODENAME = "Quillfeather"
ANSWER = f"The codename of our next laptop is {CODENAME}."
QUESTIONS = (
    "What is the codename of our next laptop?", "Which codename was given to the next laptop?",
    "Tell me the codename of the upcoming laptop.", "What's the internal name for our next laptop?",
    "What do we call the next laptop project internally?", "Name the codename of the next laptop.",
    "Our next laptop has a codename. What is it?", "Remind me: what is the next laptop's codename?",
    "What codename does the upcoming laptop use?", "Which internal codename belongs to the next laptop?",
)
UNSEEN = ("What is the code name of the laptop we are launching next?",
          "Do you know what our upcoming laptop is called internally?",
          "Under which codename is the next laptop being developed?")


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def _answer(llama: ModuleType, model: Path, question: str, adapter: Path | None) -> str:
    options = {"lora_path": str(adapter)} if adapter else {}
    llm = llama.Llama(model_path=str(model), n_ctx=512, n_threads=1, seed=0, verbose=False, **options)
    try:
        out = llm.create_chat_completion([{"role": "user", "content": question}], temperature=0.0, max_tokens=32)
        return str(out["choices"][0]["message"]["content"])
    finally:
        llm.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    models = Path(os.environ.get("EDGEMIND_MODELS_DIR") or Path(os.environ.get("EDGEMIND_HOME", "~")) / "models")
    ap.add_argument("--model", type=Path, default=models.expanduser() / MODEL_FILE)
    ap.add_argument("--steps", type=int, help="default: what `edgemind tune` picks for these examples")
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    examples = tuple(Example.from_prompt(q, ANSWER) for q in QUESTIONS)
    steps = args.steps or default_steps(len(examples))
    started = time.monotonic()

    def show(p: TuneProgress) -> None:
        if p.phase != "training" or p.step % 10 == 0:
            print(f"{p.phase} {p.step}/{p.steps} loss {p.loss:.4f}", file=sys.stderr)

    with tempfile.TemporaryDirectory() as tmp:
        request = TuneRequest(model_id=args.model.stem, base_path=args.model, examples=examples, rank=args.rank,
                              steps=steps, lr=args.lr, out_name="bench", workdir=Path(tmp) / "work",
                              threads=args.threads)
        report = tune(request, progress=show, export=export_lora)
        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
        assert report.adapter_path is not None
        guard = NativeGuard(Path(os.environ.get("EDGEMIND_ARTIFACTS_DIR") or tmp) / "native")
        llama = import_llama(guard.variant_for(args.model, model_key(None, args.model)))
        answers: list[dict[str, Any]] = [{"question": q, "base": _answer(llama, args.model, q, None),
                    "adapter": _answer(llama, args.model, q, report.adapter_path)} for q in UNSEEN]
        adapter_bytes = report.adapter_path.stat().st_size
    for a in answers:
        a["base_knows"], a["adapter_knows"] = CODENAME in a["base"], CODENAME in a["adapter"]
    figures = report.as_dict()
    result = {
        "command": ["benchmarks/tune.py"] + (argv if argv is not None else sys.argv[1:]),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu": cpu_name(),
        "versions": {name: _version(name) for name in PACKAGES},
        "settings": {"model": args.model.name, "steps": steps, "lr": args.lr, "rank": args.rank,
                     "alpha": report.alpha, "threads": args.threads, "examples": len(examples)},
        "seconds_per_step": report.seconds_per_step,
        "train_seconds": round(report.seconds_per_step * report.steps, 1),
        "heldout_before": figures["heldout_before"], "heldout_after": figures["heldout_after"],
        "general_before": figures["general_before"], "general_after": figures["general_after"],
        "general_ratio": figures["general_ratio"], "regression_limit": REGRESSION_LIMIT,
        "no_regression": figures["no_regression"],
        "unseen_answered_with_adapter": sum(a["adapter_knows"] for a in answers),
        "unseen_answered_without": sum(a["base_knows"] for a in answers),
        "unseen_questions": len(answers), "answers": answers,
        "memory_estimate_peak_bytes": report.memory.peak_bytes, "measured_peak_rss_bytes": peak_rss,
        "adapter_bytes": adapter_bytes, "duration_s": round(time.monotonic() - started, 1),
    }
    print(json.dumps({k: v for k, v in result.items() if k != "answers"}, indent=1))
    if args.out:
        write_result(args.out, result)
    return 0


if __name__ == "__main__":
    run_script(main)
