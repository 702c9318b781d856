"""Bandwidth is the yardstick for memory-bound kernels, so it must be a sane, positive number."""

from __future__ import annotations

import pytest

from edgemind.kernels.bandwidth import measure_bandwidth


def test_bandwidth_is_measured_in_plausible_gb_per_second() -> None:
    bw = measure_bandwidth(buffer_mb=64, repeats=3)
    # below 0.5 GB/s or above 2 TB/s would mean the timing or the byte count is wrong
    assert 0.5 < bw.read_gbs < 2000 and 0.5 < bw.copy_gbs < 2000


def test_a_buffer_that_fits_in_cache_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 8 MB"):
        measure_bandwidth(buffer_mb=1)
