"""Sentence embeddings per second: EdgeMind's ONNX encoder against in-run baselines (the float32 encoder, standard
ONNX ops, the numpy reference, sentence-transformers when installed), on the same texts, batch sizes and threads.

benchmarks/embeddings.py is its command. Measures only: encoders are built into the cache folder it is given.
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import sys
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgemind.kernels.bert_encoder import BertConfig, reference_forward
from edgemind.kernels.safetensors_reader import read_safetensors

from ..embeddings.embedder import MAX_TOKENS, Embedder, batch_feed, length_batches
from ..embeddings.model_files import CONFIG, WEIGHTS, package_archive, read_pinned
from ..hardware import hardware_profile
from .timing import NOISY_PCT, OthersCpu, wait_for_idle

GOAL_VS_TORCH = 1.5
EmbedFn = Callable[[Sequence[str], int], np.ndarray]

_SUBJECTS = ["the engineer", "my neighbour", "a small robot", "the old library", "our team", "the river",
             "a quiet student", "the city council", "this laptop", "the baker"]
_VERBS = ["quickly fixed", "carefully painted", "slowly read", "happily cooked", "loudly discussed",
          "patiently measured", "secretly planned", "proudly built", "calmly explained", "briefly tested"]
_OBJECTS = ["the broken bicycle near the station", "a long report about rainfall", "fresh bread for the market",
            "every window in the house", "the new budget for next spring", "a map of the northern hills",
            "an old song about the sea", "three bugs in the login page", "the garden behind the school",
            "a plan for the weekend trip"]


def short_texts(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}." for _ in range(n)]


def long_texts(n: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}." for _ in range(40))
            for _ in range(n)]


@dataclass
class Measurement:
    workload: str
    batch_size: int
    path: str
    texts: int
    seconds: list[float] = field(default_factory=list)
    others_cpu_pct: float = 0.0  # what other processes used while this cell ran

    @property
    def sentences_per_s(self) -> float:
        return self.texts / statistics.median(self.seconds)


def numpy_reference(embedder: Embedder) -> EmbedFn:
    archive = package_archive()
    cfg = BertConfig.from_hf(json.loads(read_pinned(archive, CONFIG)))
    weights = read_safetensors(read_pinned(archive, WEIGHTS))

    def embed(texts: Sequence[str], batch_size: int) -> np.ndarray:
        encodings = embedder.tokenize(texts)
        out = np.empty((len(texts), embedder.dimension), dtype=np.float32)
        for rows in length_batches(encodings, batch_size):
            feed = batch_feed([encodings[i] for i in rows])
            out[rows] = reference_forward(cfg, weights, feed["input_ids"], feed["attention_mask"],
                                          feed["token_type_ids"])
        return out

    return embed


def sentence_transformers_path(workdir: Path, threads: int) -> tuple[EmbedFn | None, str]:
    """The original model in torch, loaded from the same package zip; (None, why) when it cannot run."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # it must read the local folder, never a hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        return None, f"not installed ({exc.name}); install torch + sentence-transformers to compare"
    folder = workdir / "all-MiniLM-L6-v2"
    with zipfile.ZipFile(package_archive()) as zf:
        zf.extractall(folder)
    torch.set_num_threads(threads)
    model = SentenceTransformer(str(folder), device="cpu")
    model.max_seq_length = MAX_TOKENS

    def embed(texts: Sequence[str], batch_size: int) -> np.ndarray:
        return model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
                            show_progress_bar=False)

    return embed, f"torch {torch.__version__}, sentence-transformers {sys.modules['sentence_transformers'].__version__}"


def measure(paths: dict[str, EmbedFn], texts: Sequence[str], workload: str, batch_size: int, repeats: int,
            once: set[str]) -> tuple[list[Measurement], dict[str, float]]:
    """Timed runs in rotating order; also the worst cosine of every path's vectors against edgemind's.

    Every path's first call is a warm-up whose vectors serve the parity check; paths in `once` (the numpy
    reference: no warm-up to do, and one call of it can take a minute) are timed on that call alone."""
    results = {name: Measurement(workload, batch_size, name, len(texts)) for name in paths}
    monitor = OthersCpu()
    vectors = {}
    for name, fn in paths.items():
        start = time.perf_counter()
        vectors[name] = fn(texts, batch_size)
        if name in once:
            results[name].seconds.append(time.perf_counter() - start)
    parity = {name: float(np.min(np.sum(v * vectors["edgemind"], axis=1))) for name, v in vectors.items()
              if name != "edgemind"}
    names = [n for n in paths if n not in once]
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            paths[name](texts, batch_size)
            results[name].seconds.append(time.perf_counter() - start)
    others = monitor.percent()
    for m in results.values():
        m.others_cpu_pct = others
    return list(results.values()), parity


def table(measurements: list[Measurement], names: list[str]) -> str:
    by = {(m.workload, m.batch_size, m.path): m.sentences_per_s for m in measurements}
    noise = {(m.workload, m.batch_size): m.others_cpu_pct for m in measurements}
    header = (["input", "batch"] + [f"{n} s/s" for n in names] + [f"edgemind / {n}" for n in names[1:]]
              + ["others' CPU"])
    rows = [header]
    for workload, batch in dict.fromkeys((m.workload, m.batch_size) for m in measurements):
        mine = by[(workload, batch, "edgemind")]
        rows.append([workload, str(batch)] + [f"{by[(workload, batch, n)]:.1f}" for n in names]
                    + [f"{mine / by[(workload, batch, n)]:.2f}x" for n in names[1:]]
                    + [f"{noise[(workload, batch)]:.0f}%"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows)


@dataclass(frozen=True, slots=True)
class EmbeddingBenchOptions:
    threads: int
    repeats: int = 5
    short_texts: int = 64
    long_texts: int = 32
    batch_sizes: tuple[int, ...] = (1, 32)
    wait_idle_s: float = 0.0  # before each cell, wait up to this long for other processes to go quiet
    reference: bool = True  # time the numpy reference too (a minute for 32 x 256 tokens)


def measure_embeddings(cache: Path, workdir: Path, options: EmbeddingBenchOptions,
                       progress: Callable[[str], None] = lambda m: None) -> tuple[dict[str, Any], str]:
    """Every path on both workloads at each batch size; returns the JSON report and the printed summary.
    `cache` holds the built encoders, `workdir` a scratch folder (sentence-transformers' unpacked model)."""
    threads = options.threads
    embedder = Embedder(cache, threads=threads)
    fp32 = Embedder(cache, threads=threads, variant="fused", tokens_per_run=None)
    standard = Embedder(cache, threads=threads, variant="standard", tokens_per_run=None)
    paths: dict[str, EmbedFn] = {"edgemind": embedder.embed, "fp32-fused": fp32.embed, "standard-ops": standard.embed}
    if options.reference:
        paths["numpy-reference"] = numpy_reference(embedder)
    torch_path, torch_note = sentence_transformers_path(workdir, threads)
    if torch_path is not None:
        paths["sentence-transformers"] = torch_path
    progress(f"sentence-transformers: {torch_note}")

    workloads = {"short": short_texts(options.short_texts), "256": long_texts(options.long_texts)}
    lengths = {k: sorted({len(e.ids) for e in embedder.tokenize(v)}) for k, v in workloads.items()}
    if lengths["256"] != [MAX_TOKENS]:
        raise RuntimeError(f"the long texts were meant to fill {MAX_TOKENS} word pieces, got {lengths['256']}")
    measurements: list[Measurement] = []
    parity: dict[str, float] = {}
    for workload, texts in workloads.items():
        for batch in options.batch_sizes:
            if options.wait_idle_s:
                wait_for_idle(options.wait_idle_s)
            found, worst = measure(paths, texts, workload, batch, options.repeats, {"numpy-reference"})
            measurements += found
            for name, cos in worst.items():
                parity[name] = min(parity.get(name, 1.0), cos)
            noisy = f"  NOISY: other processes used {found[0].others_cpu_pct:.0f}% of the CPU" \
                if found[0].others_cpu_pct > NOISY_PCT else ""
            progress(f"  {workload:>5} x batch {batch:>2}: "
                     + ", ".join(f"{m.path} {m.sentences_per_s:.1f}/s" for m in found) + noisy)

    names = list(paths)
    lines = ["", table(measurements, names), "",
             f"word pieces per text: short {lengths['short'][0]}-{lengths['short'][-1]}, long {lengths['256']}; "
             f"threads {threads}",
             "parity, worst cosine vs edgemind: " + ", ".join(f"{n} {c:.6f}" for n, c in parity.items())]
    verdict = None
    if torch_path is None:
        lines.append(f"sentence-transformers ratio: skipped, {torch_note}")
    else:
        ratios = {f"{m.workload}/b{m.batch_size}": m.sentences_per_s for m in measurements if m.path == "edgemind"}
        for m in measurements:
            if m.path == "sentence-transformers":
                ratios[f"{m.workload}/b{m.batch_size}"] /= m.sentences_per_s
        verdict = {k: round(v, 3) for k, v in ratios.items()}
        met = [k for k, v in ratios.items() if v >= GOAL_VS_TORCH]
        lines.append(f"goal edgemind >= {GOAL_VS_TORCH}x sentence-transformers: met for {', '.join(met) or 'none'} "
                     f"of {', '.join(ratios)}")
    report = {
        "machine": hardware_profile().as_dict(), "python": platform.python_version(), "threads": threads,
        "sentence_transformers": torch_note, "goal_vs_sentence_transformers": GOAL_VS_TORCH,
        "ratio_vs_sentence_transformers": verdict, "parity_min_cosine": parity,
        "results": [dict(asdict(m), sentences_per_s=m.sentences_per_s) for m in measurements],
    }
    return report, "\n".join(lines)
