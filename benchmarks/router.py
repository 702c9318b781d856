"""Intent router on the held-out split: accuracy, per-intent recall, per-language accuracy and p50/p95 latency of
`route`, and the same for the keyword baseline (the cheap signals alone) in the same run. The figures are computed
by edgemind.core.bench.routing, as in `edgemind bench`; this script adds the baseline and cross-validation.

    .venv/bin/python benchmarks/router.py [--json OUT]
    .venv/bin/python benchmarks/router.py --cv       # 5-fold cross-validation on the TRAIN split only

The held-out split is for reporting, never for tuning: features, lexicons and training settings were chosen with
--cv. In --cv the lexicons are cut down to the phrases of the training folds, so a held-back fold's own words count
as unseen, as they would for a new prompt. Latency is the wall time of one `route` call after warm-up: on a busy
2-core machine the embedding dominates and moves with the load (the load average is printed with the table).
Goals from the issue: >= 90% held-out accuracy, p95 <= 20 ms.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from edgemind.core.bench.routing_baselines import cross_validation_report, router_vs_baseline
from edgemind.core.bench.script import run_script, write_result
from edgemind.core.embeddings.embedder import Embedder
from edgemind.core.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON here")
    parser.add_argument("--cv", action="store_true", help="cross-validate on the train split instead")
    parser.add_argument("--cache", type=Path, help="folder for the built encoder and model (default: a temp dir)")
    parser.add_argument("--unsure-model", metavar="ID",
                        help="also route with this model settling unsure prompts (router.unsure_model); needs the "
                             "model installed (EDGEMIND_HOME / EDGEMIND_MODELS_DIR)")
    parser.add_argument("--unsure-threshold", type=float, help="confidence below which the model is asked "
                        "(default: the policy's threshold)")
    args = parser.parse_args(argv)

    cache = args.cache or Path(tempfile.mkdtemp(prefix="edgemind-router-bench-"))
    embedder = Embedder(cache / "embeddings")
    if args.cv:
        report = cross_validation_report(embedder, progress=print)
    else:
        report, text = router_vs_baseline(embedder, cache, load_settings(), unsure_model=args.unsure_model,
                                          unsure_threshold=args.unsure_threshold, progress=print)
        print(text)
    if args.json:
        write_result(args.json, report)
    return 0


if __name__ == "__main__":
    run_script(main)
