"""The ternary path end to end (issue 22): train a tiny Llama with BitNet b1.58 QAT on the stdlib's documentation
topics, export it as TQ2_0/TQ1_0 GGUF (and F16/Q8_0 of the same weights), and measure held-out perplexity in torch,
in llama.cpp and in our own T-MAC forward pass; llama.cpp decode speed and peak RSS per format (fresh child processes,
ABBA order, medians); a 1B projection from the measured bytes per parameter; and what post-training ternarization
does to the bundled SmolLM2-135M. benchmarks/ternary_model.py is the command; this module does the work.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ...kernels.lut_forward import LutForward
from ..training.bitnet import TinyLlamaConfig, TrainConfig, random_weights, torch_logits, train
from ..training.bpe import train_bpe, vocabulary
from ..training.corpus import corpus_split
from ..training.ternary import quantize_ternary
from ..training.ternary_gguf import Export, write_gguf
from .perplexity import LogitsFn, Perplexity, perplexity

DECODE_CHILD = Path(__file__).with_name("decode_child.py")
FORMATS = ("TQ2_0", "TQ1_0", "Q8_0", "F16")
DECODE_FORMATS = ("TQ2_0", "Q8_0", "F16")

# A 1B Llama-family shape for the projection (TinyLlama-1.1B's: hidden 2048, 22 layers, GQA 32/4, SwiGLU 5632,
# vocab 32000, tied embeddings as ours), context 2048 with an F16 KV cache.
PROJECTION_SHAPE = {"hidden": 2048, "layers": 22, "heads": 32, "kv_heads": 4, "ffn": 5632, "vocab": 32000,
                    "context": 2048}
PROJECTION_TARGET_MB = 500


@dataclass(frozen=True, slots=True)
class BenchConfig:
    steps: int = 400
    threads: int = 1  # torch, our forward and llama.cpp alike
    repeats: int = 5  # decode children per format, ABBA
    decode_tokens: int = 64
    seed: int = 0
    smollm: Path | None = None  # the bundled SmolLM2-135M GGUF, for the post-training ternarization check
    ptq_windows: int = 4


def llama_logits(llama_cpp: ModuleType, path: Path, *, window: int, threads: int) -> tuple[LogitsFn, Any]:
    """(logits function, the Llama object to close) over llama.cpp with logits for every position."""
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=max(window, 128), n_batch=max(window, 128),
                          n_threads=threads, n_threads_batch=threads, logits_all=True, verbose=False)

    def logits(ids: list[int]) -> np.ndarray:
        llm.reset()
        llm.eval(ids)
        return np.array(llm.scores[:len(ids)], dtype=np.float32)

    return logits, llm


def _ppl_row(p: Perplexity) -> dict[str, float | int]:
    return {"perplexity": p.perplexity, "nll": p.nll, "scored_tokens": p.scored, "windows": p.windows}


def decode_speed(files: dict[str, Path], variant: str, *, threads: int, tokens: int, repeats: int,
                 log: Callable[[str], None]) -> dict[str, Any]:
    """llama.cpp greedy decode tok/s and peak RSS per file: one fresh child per (file, repeat), in ABBA order
    (the order reverses every repeat), medians over the children's own medians."""
    names = list(files)
    runs: dict[str, list[float]] = {n: [] for n in names}
    rss: dict[str, list[int]] = {n: [] for n in names}
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            cmd = [sys.executable, str(DECODE_CHILD), "--model", str(files[name]), "--variant", variant,
                   "--threads", str(threads), "--tokens", str(tokens), "--repeats", "3"]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            line = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
            row = json.loads(line) if line.startswith("{") else {}
            if not row.get("ok"):
                raise RuntimeError(f"the decode child failed on {files[name].name}: {done.stderr.strip()[-300:]}")
            runs[name].append(float(row["idle_median"]))
            if row.get("peak_rss_bytes"):
                rss[name].append(int(row["peak_rss_bytes"]))
        log(f"decode repeat {r + 1}/{repeats}: " + ", ".join(f"{n} {runs[n][-1]:.0f} tok/s" for n in names))
    out: dict[str, Any] = {}
    for n in names:
        out[n] = {"tok_s": statistics.median(runs[n]), "tok_s_runs": runs[n],
                  "peak_rss_bytes": max(rss[n]) if rss[n] else None, "file_bytes": files[n].stat().st_size}
    return out


def ptq_collapse(llama_cpp: ModuleType, smollm: Path, text: str, *, windows: int, threads: int) -> dict[str, Any]:
    """SmolLM2-135M's held-out perplexity as shipped (its GGUF's weights, dequantized) and with every decoder matrix
    ternarized after training (AbsMean per matrix, core/training/ternary.py): no QAT, no calibration."""
    vocab_only = llama_cpp.Llama(model_path=str(smollm), vocab_only=True, verbose=False)
    ids = vocab_only.tokenize(text.encode(), add_bos=False, special=False)
    vocab_only.close()

    def ternarize(_: str, w: np.ndarray) -> np.ndarray:
        trits, scale = quantize_ternary(w)
        return (trits.astype(np.float32) * np.float32(scale)).astype(np.float32)

    rows: dict[str, Any] = {}
    for label, transform in (("as_shipped", None), ("ternarized", ternarize)):
        fwd = LutForward(smollm, threads=threads, use_lut=False, transform=transform)
        rows[label] = _ppl_row(perplexity(fwd.logits, ids, window=128, max_windows=windows))
        del fwd
    rows["model"] = smollm.name
    rows["ratio"] = rows["ternarized"]["perplexity"] / rows["as_shipped"]["perplexity"]
    return rows


def projection_1b(matrix_bytes_per_param: dict[str, float], embed_bytes_per_param: float,
                  runtime_bytes: int) -> dict[str, Any]:
    """A 1B ternary model's resident memory, on paper: its matrices at the measured bytes per parameter of each
    ternary format, its tied embedding at ours (F16), an F16 KV cache for the context, and the runtime (Python,
    llama.cpp, buffers) as measured with our tiny model: peak RSS minus that model's file."""
    s = PROJECTION_SHAPE
    head_dim = s["hidden"] // s["heads"]
    per_layer = (2 * s["hidden"] * s["hidden"] + 2 * s["hidden"] * s["kv_heads"] * head_dim
                 + 3 * s["hidden"] * s["ffn"])
    matrices = per_layer * s["layers"]
    embed = s["vocab"] * s["hidden"]
    kv = 2 * s["layers"] * s["kv_heads"] * head_dim * s["context"] * 2
    out: dict[str, Any] = {"shape": s, "matrix_params": matrices, "embedding_params": embed, "kv_cache_bytes": kv,
                           "runtime_bytes": runtime_bytes, "target_mb": PROJECTION_TARGET_MB, "by_format": {}}
    for fmt, bpp in matrix_bytes_per_param.items():
        total = matrices * bpp + embed * embed_bytes_per_param + kv + runtime_bytes
        out["by_format"][fmt] = {"matrix_bytes_per_param": bpp, "matrix_mb": matrices * bpp / 1e6,
                                 "embedding_mb": embed * embed_bytes_per_param / 1e6, "total_mb": total / 1e6,
                                 "under_target": total / 1e6 < PROJECTION_TARGET_MB}
    return out


def run(cfg: BenchConfig, work: Path, llama_for: Callable[[list[Path]], tuple[ModuleType, str]],
        log: Callable[[str], None] = print) -> dict[str, Any]:
    """The whole benchmark in `work` (model files stay there). `llama_for(paths)` returns llama_cpp with CPU code
    that runs all `paths` registered, and that code's library path (or "builtin") for the decode children."""
    started = time.time()
    split = corpus_split(cfg.seed)
    tok = train_bpe(split.train)
    vocab = vocabulary(tok)
    train_ids = np.asarray(tok.encode(split.train).ids)
    held_ids = [int(i) for i in tok.encode(split.held_out).ids]
    model = TinyLlamaConfig(vocab=len(vocab.tokens))
    log(f"corpus: {len(train_ids):,} training tokens, {len(held_ids):,} held-out tokens "
        f"({len(split.held_out_topics)} topics held out)")
    runs = {}
    for label, ternary in (("float", False), ("ternary_qat", True)):
        tc = TrainConfig(steps=cfg.steps, seed=cfg.seed, threads=cfg.threads, ternary=ternary)

        def every_50(step: int, loss: float, label: str = label) -> None:
            if step % 50 == 0:
                log(f"{label} step {step}: loss {loss:.3f}")

        runs[label] = train(model, train_ids, np.asarray(held_ids), tc, progress=every_50)
        log(f"{label}: {runs[label].seconds:.0f} s, held-out loss {runs[label].held_out_losses[-1][1]:.3f}")
    ppl: dict[str, Any] = {"uniform": float(model.vocab)}
    for label, ternary in (("torch_float", False), ("torch_ternary_qat", True)):
        key = "float" if not ternary else "ternary_qat"
        fn = torch_logits(model, runs[key].weights, ternary=ternary, threads=cfg.threads)
        ppl[label] = _ppl_row(perplexity(fn, held_ids, window=model.context))
        log(f"{label}: perplexity {ppl[label]['perplexity']:.2f}")
    work.mkdir(parents=True, exist_ok=True)
    exports: dict[str, Export] = {fmt: write_gguf(work / f"tiny-ternary-{fmt.lower()}.gguf", model,
                                                  runs["ternary_qat"].weights, vocab, matrix_type=fmt)
                                  for fmt in FORMATS}
    untrained = write_gguf(work / "untrained-tq2_0.gguf", model, random_weights(model, cfg.seed), vocab)
    llama_cpp, variant = llama_for([*(e.path for e in exports.values()), untrained.path])
    for label, path in (("llama_cpp_tq2_0", exports["TQ2_0"].path), ("llama_cpp_tq1_0", exports["TQ1_0"].path),
                        ("llama_cpp_f16", exports["F16"].path), ("llama_cpp_untrained_tq2_0", untrained.path)):
        fn, llm = llama_logits(llama_cpp, path, window=model.context, threads=cfg.threads)
        ppl[label] = _ppl_row(perplexity(fn, held_ids, window=model.context))
        llm.close()
        log(f"{label}: perplexity {ppl[label]['perplexity']:.2f}")
    ours_seconds = {}
    for label, fmt in (("ours_tmac_tq2_0", "TQ2_0"), ("ours_tmac_tq1_0", "TQ1_0")):
        fwd = LutForward(exports[fmt].path, threads=cfg.threads)
        t0 = time.perf_counter()
        ppl[label] = {**_ppl_row(perplexity(fwd.logits, held_ids, window=model.context)),
                      "matrix_path": fwd.matrix_path}
        ours_seconds[label] = time.perf_counter() - t0
        log(f"{label}: perplexity {ppl[label]['perplexity']:.2f} ({fwd.matrix_path})")
    agreement = {fmt: abs(ppl[f"ours_tmac_{fmt}"]["perplexity"] / ppl[f"llama_cpp_{fmt}"]["perplexity"] - 1)
                 for fmt in ("tq2_0", "tq1_0")}
    decode = decode_speed({f: exports[f].path for f in DECODE_FORMATS}, variant, threads=cfg.threads,
                          tokens=cfg.decode_tokens, repeats=cfg.repeats, log=log)
    tq2 = decode["TQ2_0"]
    runtime = (int(tq2["peak_rss_bytes"]) - tq2["file_bytes"]) if tq2["peak_rss_bytes"] else 0
    embed_params = model.vocab * model.hidden
    projection = projection_1b({f: exports[f].matrix_bytes / exports[f].matrix_params for f in ("TQ2_0", "TQ1_0")},
                               2.0, runtime)
    ptq = (ptq_collapse(llama_cpp, cfg.smollm, split.held_out, windows=cfg.ptq_windows, threads=cfg.threads)
           if cfg.smollm is not None else None)
    return {
        "config": {**asdict(model), "train": asdict(runs["ternary_qat"].train),
                   "corpus": "pydoc_data/topics.py (CPython's documentation topics), split by topic, seed "
                             f"{split.seed}", "held_out_topics": list(split.held_out_topics),
                   "tokenizer": f"byte-level BPE, {len(vocab.tokens)} tokens, learned from the training split",
                   "train_tokens": int(len(train_ids)), "held_out_tokens": len(held_ids),
                   "activations": "per-token absmax int8 (BitLinear inputs) in QAT; llama.cpp: Q8_K per 256; "
                                  "T-MAC: int8 tables per 32"},
        "training": {label: {"seconds": r.seconds, "final_loss": float(np.mean(r.losses[-20:])),
                             "held_out_loss": r.held_out_losses} for label, r in runs.items()},
        "perplexity": ppl,
        "ours_vs_llama_cpp": agreement,
        "ours_seconds": ours_seconds,
        "files": {fmt: {"file_bytes": e.file_bytes, "matrix_bytes": e.matrix_bytes, "matrix_params": e.matrix_params,
                        "matrix_bits_per_param": 8 * e.matrix_bytes / e.matrix_params, "other_bytes": e.other_bytes,
                        "other_params": e.other_params} for fmt, e in exports.items()},
        "embedding_params": embed_params,
        "decode": decode,
        "projection_1b": projection,
        "ptq_smollm2": ptq,
        "seconds": time.time() - started,
    }
