"""Training loops below the CLI: the hybrid trainer that predicts updates between real backward passes, its
correction-accuracy measurement, and the ternary/VSA compression helpers. Core layer: no Qt, and torch only inside
functions (the optional `[tune]` extra), so importing this package never needs the training stack."""

from __future__ import annotations

from .accuracy import CorrectionRecord, CorrectionSummary, error_reduction, summarize
from .config import AGGRESSIVE_MIN_REDUCTION, PRESETS, HybridConfig, preset
from .hybrid import HybridReport, HybridTrainer, StepRecord
from .plain import PlainTrainer
from .ternary import dequantize_ternary, quantize_ternary
from .trits import PackedTrits, pack_trits, unpack_trits

__all__ = [
    "AGGRESSIVE_MIN_REDUCTION", "PRESETS", "CorrectionRecord", "CorrectionSummary", "HybridConfig", "HybridReport",
    "HybridTrainer", "PackedTrits", "PlainTrainer", "StepRecord", "dequantize_ternary", "error_reduction",
    "pack_trits", "preset", "quantize_ternary", "summarize", "unpack_trits",
]
