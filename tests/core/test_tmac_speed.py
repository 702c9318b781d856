"""The T-MAC microbenchmark's bookkeeping (rows, ratios, bytes, goals) and its CLI; speed itself is judged only by
the benchmark, never here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgemind.core.bench.tmac_speed import (
    LUT1,
    LUT2,
    LUT4,
    NUMPY,
    ORT_ACC0,
    ORT_ACC4,
    goals,
    low_bit_block,
    run_tmac_microbench,
)
from edgemind.kernels import tmac

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not tmac.available(), reason=str(tmac.why_unavailable()))


def test_rows_cover_every_kernel_and_thread_count_with_consistent_ratios() -> None:
    rows = run_tmac_microbench([(64, 96, "tiny")], threads=(1, 2), repeats=2, read_gbs=10.0, stream_bytes=20_000)
    forced = {f"{LUT4}@{isa}" for isa in tmac.isas() if isa != "scalar"}
    assert {(r.kernel, r.threads) for r in rows} == {
        (k, t) for k in {ORT_ACC0, ORT_ACC4, LUT4, LUT2, LUT1, NUMPY} | forced for t in (1, 2)}
    for r in rows:
        same = [x for x in rows if x.threads == r.threads]
        best_ort = min(x.median_us for x in same if x.kernel in (ORT_ACC0, ORT_ACC4))
        assert r.speedup_vs_ort == pytest.approx(best_ort / r.median_us)
        assert r.effective_gbs == pytest.approx(r.weight_bytes / (r.median_us / 1e6) / 1e9)
        assert r.bandwidth_fraction == pytest.approx(r.effective_gbs / 10.0)
        # copies until a call streams >= 20000 bytes of 4-bit LUT weights: 96 rows pad to 3 tiles of 32; per tile
        # and 32-weight block, 32 fp16 scales and 8 groups of 64 bytes
        assert r.copies == (1 if r.kernel == NUMPY else -(-20_000 // (3 * 2 * (64 + 8 * 64))))
    lut4 = next(r for r in rows if r.kernel == LUT4)
    assert lut4.weight_bytes == 3 * 2 * (64 + 8 * 64)
    # the int8 tables cost a little accuracy against MatMulNBits on the same weights, never a lot
    assert lut4.max_rel_error_vs_ort is not None and 0 < lut4.max_rel_error_vs_ort < 0.05
    summary = goals(rows, 20_000)
    assert len(summary["per_shape"]) == 2 and summary["speedup_goal_met_on"].endswith("/2")


def test_low_bit_blocks_follow_the_row_length() -> None:
    assert [low_bit_block(k) for k in (4864, 1536, 896, 576, 96)] == [256, 256, 128, 64, 32]


def test_the_cli_writes_a_result_and_refuses_bad_shapes(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "tmac_kernels.py"), "--shapes", "64x32",
                           "--repeats", "1", "--threads", "1", "--stream-mb", "0", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    assert data["machine"]["tmac_default_isa"] in data["machine"]["tmac_isas"] and data["rows"]
    bad = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "tmac_kernels.py"), "--shapes", "64by32"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "shapes must look like 896x4864" in bad.stderr and "Traceback" not in bad.stderr
