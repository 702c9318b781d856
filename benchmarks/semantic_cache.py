"""The semantic cache tier's guards on the labelled pairs: exact words, the word match before issue 17 and now.

    .venv/bin/python benchmarks/semantic_cache.py [--no-latency] [--out benchmarks/results/semantic_cache.json]

On the same pairs and the same prompt threshold, all in `edgemind.core.bench.semantic_pairs.measure_semantic_pairs`:
  * resources/semantic_heldout2.jsonl (written for issue 17, never tuned on; goal: recall >= 0.8, no false hit):
    precision, recall, false hits, and what each kind of paraphrase and near-miss gets served;
  * the development sets beside it (resources/semantic_heldout.jsonl, written first, a development set since its
    first run showed false hits; semantic_paraphrases.jsonl and semantic_cache_pairs.jsonl, both splits): no
    regression of their precision;
  * the word thresholds as tuned in this run from the development sets (they must equal the shipped ones);
  * one lookup in a real cache file holding every labelled first prompt: median ms with each guard, and the word
    match now with words never embedded before.
"""

from __future__ import annotations

import argparse
import sys

from edgemind.core.bench.script import run_script, write_result
from edgemind.core.bench.semantic_pairs import measure_semantic_pairs
from edgemind.core.embeddings.embedder import Embedder
from edgemind.core.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-latency", action="store_true", help="skip the lookup timings")
    ap.add_argument("--out", help="write the result as JSON here")
    args = ap.parse_args(argv)
    report = measure_semantic_pairs(Embedder.from_settings(load_settings()), latency=not args.no_latency)
    print(report.summary())
    if args.out:
        data = {"command": ["benchmarks/semantic_cache.py", *(argv if argv is not None else sys.argv[1:])],
                **report.as_dict()}
        write_result(args.out, data)
    return 0


if __name__ == "__main__":
    run_script(main)
