"""A finished tune as an adapter manifest: what the registry pins (its SHA-256 and its base's) and what it measured.

The data summary holds counts and a hash of the examples, never the examples themselves: a manifest travels in
packs a user shares.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..models.adapters import AdapterManifest
from ..models.integrity import sha256_file
from .data import Example
from .trainer import TuneReport


def data_summary(examples: Sequence[Example], report: TuneReport) -> dict[str, Any]:
    digest = hashlib.sha256(json.dumps([[e.chat(), e.answer] for e in examples], sort_keys=True).encode())
    return {"examples": len(examples), "trained": report.train_examples, "held_out": report.heldout_examples,
            "examples_sha256": digest.hexdigest()}


def evaluation(report: TuneReport) -> dict[str, Any]:
    figures = report.as_dict()
    keys = ("heldout_before", "heldout_after", "general_before", "general_after", "general_ratio", "no_regression",
            "steps", "seconds_per_step", "arch", "trainer", "preset", "backward_passes")
    return {key: figures[key] for key in keys}


def adapter_manifest(report: TuneReport, adapter_file: Path, base_sha256: str | None, summary: dict[str, Any],
                     kind: str = "tune") -> AdapterManifest:
    """The manifest for `adapter_file`, exported from `report`'s tune of `report.model_id`."""
    return AdapterManifest(
        name=report.out_name, base_model=report.model_id,
        base_sha256=base_sha256 or sha256_file(report.base_path),
        adapter_sha256=sha256_file(adapter_file), rank=report.rank, alpha=report.alpha, kind=kind,
        data_summary=summary, evaluation=evaluation(report))
