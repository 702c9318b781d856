"""Safety guardrails on the two unseen splits (held-out, and blind: written by a separate author who never saw the
other files): harmful refused and benign refused, overall and per category, p50/p95
latency per check, and the same for a naive keyword blocklist in the same run (it shows the over-refusal problem).
The figures are computed by edgemind.core.bench.safety_rates, as in `edgemind bench`; this script adds the
blocklist baseline and cross-validation.

    .venv/bin/python benchmarks/safety.py [--level standard] [--json OUT]
    .venv/bin/python benchmarks/safety.py --cv       # 5-fold cross-validation on the TRAIN split only

Both unseen splits are for reporting, never for tuning: thresholds and training settings were chosen with --cv.
Latency is wall time of `check_input` after warm-up on this machine; on a busy 2-core machine the embedding
dominates and moves with the load (the load average is printed with the table).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from edgemind.core.bench.safety_baselines import checker_vs_blocklist, cross_validate
from edgemind.core.embeddings.embedder import Embedder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--level", help="policy level to measure (default: the shipped policy's)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON here")
    parser.add_argument("--cv", action="store_true", help="cross-validate on the train split instead")
    parser.add_argument("--cache", type=Path, help="folder for the built encoder and weights (default: a temp dir)")
    args = parser.parse_args(argv)

    cache = args.cache or Path(tempfile.mkdtemp(prefix="edgemind-safety-bench-"))
    embedder = Embedder(cache / "embeddings")
    if args.cv:
        print("\n".join(cross_validate(embedder)))
        return 0
    results_by_split = checker_vs_blocklist(embedder, cache, args.level, progress=print)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results_by_split, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
