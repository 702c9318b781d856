"""Train the safety checker on the package's own data and ship the weights with it.

Without shipped weights the first request after an install (and every test run on a clean clone) spends about a minute
training the checker. The weights depend only on the committed data, rules, categories and embedder, all of which are
in their cache key, so they are trained once here and committed; a change to any of them changes the key, the shipped
file no longer matches, and a test says to run this again (until then the checker trains as before).

    .venv/bin/python -m edgemind.core.safety.ship
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..embeddings.embedder import embeddings_cache_dir, shared_embedder
from ..settings.loading import load_settings
from .checker import SHIPPED_PREFIX, shipped_weights_path, train_weights, weights_key
from .policy import load_policy


def ship(embedder_cache: Path) -> Path:
    """Train on TRAIN_FILES, write the weights where the package ships them and remove older shipped weights."""
    key, paths = weights_key(load_policy())
    target = shipped_weights_path(key)
    weights = train_weights(shared_embedder(embedder_cache), paths)
    weights.save(target, stale=f"{SHIPPED_PREFIX}*.npz")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgemind.core.safety.ship", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    target = ship(embeddings_cache_dir(load_settings()))
    print(f"wrote {target} ({target.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
