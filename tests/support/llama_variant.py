"""The one condition under which tmac's sums can equal llama.cpp's: llama.cpp runs its AVX2 (`haswell`) CPU code,
whose summation order the decoder follows; its AVX-512 variants sum in other orders (on an Intel Xeon with AVX-512,
session 35, greedy texts parted at near-ties)."""

from __future__ import annotations

import pytest

from edgemind.core.backends.llama_native import loaded_variant


def skip_unless_llama_runs_avx2_code() -> None:
    """Skip the calling test unless this process's llama.cpp runs its `haswell` variant (call after a model loaded)."""
    variant = loaded_variant()
    if variant is None or variant.name != "haswell":
        pytest.skip(f"llama.cpp runs its {variant.name if variant else 'unknown'} variant here, not the AVX2 code "
                    "the decoder follows")
