"""Sentence embeddings: sentences per second of EdgeMind's ONNX encoder, against in-run baselines.

What it measures
    One call of `embed(texts, batch_size)` over the same N texts per path, for two workloads:
    * short - N sentences of about 10 words (12-16 word pieces);
    * 256   - N paragraphs long enough that every one is truncated to the 256-word-piece limit;
    each at batch size 1 and 32. sentences/s = N / wall time of the call (tokenizing included), median over repeats.

    Paths, all on the same texts, the same batch sizes and the same number of threads (physical cores):
    * edgemind          - `Embedder.embed`: the shipped encoder (int8 weight matmuls, com.microsoft fused ops) in
                          onnxruntime, batches split into runs of ~TOKENS_PER_RUN word pieces;
    * fp32-fused        - the float32 encoder shipped before int8 (com.microsoft fused ops), each batch in one run:
                          the "before" of the int8 change;
    * standard-ops      - the float32 network as a graph of standard ONNX ops only, each batch in one run (the A/B
                          behind the fused choice);
    * numpy-reference   - `reference_forward`, the plain numpy BERT the encoder is tested against (timed on one
                          call: it is slow, a minute for 32 x 256 tokens);
    * sentence-transformers - the original model through torch, if `torch` and `sentence_transformers` import
                          (never installed by EdgeMind itself); goal: edgemind >= 1.5x its sentences/s.
    Paths run in a rotating order within each repeat so drift and cache warmth do not favour one. Each path gets
    one untimed warm-up call first. Parity (cosine of edgemind's vectors with each other path's) is printed too.

    On a 2-core machine any other busy process distorts every figure: the CPU that other processes used during each
    cell is reported (cells above 10% are flagged NOISY) and --wait-idle waits for quiet before each cell. Compare
    figures only within one run. The int8 encoder is not the float32 network: its parity line (worst cosine of the
    numpy reference and of sentence-transformers against edgemind) is ~0.999, not 1.0.

How to run
    .venv/bin/python benchmarks/embeddings.py
    .venv/bin/python benchmarks/embeddings.py --repeats 7 --json benchmarks/out/embeddings.json
    .venv/bin/python benchmarks/embeddings.py --quick          # fewer texts and repeats, for a smoke run
    .venv/bin/python benchmarks/embeddings.py --wait-idle 300  # on a shared, busy machine
    The encoder is built into a temporary folder (removed afterwards) unless --cache-dir names one.
    The exit status is 0 unless something fails: this reports, it does not gate CI.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from edgemind.core.bench.embedding_speed import EmbeddingBenchOptions, measure_embeddings
from edgemind.core.bench.script import run_script, write_result
from edgemind.core.hardware import physical_cores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--short-texts", type=int, default=64)
    parser.add_argument("--long-texts", type=int, default=32)
    parser.add_argument("--batch-sizes", default="1,32")
    parser.add_argument("--quick", action="store_true", help="8 texts, 2 repeats")
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                        help="before each cell, wait up to this long for other processes to go quiet")
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--cache-dir", type=Path)
    parser.add_argument("--json", type=Path, dest="json_out")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.short_texts, args.long_texts = 2, 8, 8
    options = EmbeddingBenchOptions(threads=physical_cores(), repeats=args.repeats, short_texts=args.short_texts,
                                    long_texts=args.long_texts,
                                    batch_sizes=tuple(int(b) for b in args.batch_sizes.split(",")),
                                    wait_idle_s=args.wait_idle, reference=not args.no_reference)
    with tempfile.TemporaryDirectory(prefix="edgemind-embeddings-bench-") as tmp:
        report, text = measure_embeddings(args.cache_dir or Path(tmp) / "cache", Path(tmp), options,
                                          progress=lambda m: print(m, flush=True))
    print(text)
    if args.json_out:
        write_result(args.json_out, report)
        print(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    run_script(main)
