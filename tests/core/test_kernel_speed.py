"""The INT4 microbenchmark's bookkeeping (rows, ratios, bytes) and its CLI; speed itself is judged only by the
benchmark, never here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgemind.core.bench.kernel_speed import (
    FP32,
    INT4_ACC0,
    INT4_ACC4,
    MicrobenchRow,
    goal_summary,
    run_int4_microbench,
)

ROOT = Path(__file__).resolve().parents[2]


def test_rows_cover_every_kernel_shape_and_m_with_consistent_ratios() -> None:
    rows = run_int4_microbench([(64, 48, "tiny"), (100, 16)], threads=1, repeats=2, ms=(1, 3), read_gbs=10.0,
                               stream_bytes=5000)
    assert len(rows) == 2 * 2 * 3
    assert all(isinstance(r, MicrobenchRow) for r in rows)
    assert {(r.k, r.n, r.m, r.kernel) for r in rows} == {
        (k, n, m, kern) for k, n in ((64, 48), (100, 16)) for m in (1, 3) for kern in (FP32, INT4_ACC0, INT4_ACC4)}
    for r in rows:
        fp32 = next(x for x in rows if (x.k, x.n, x.m, x.kernel) == (r.k, r.n, r.m, FP32))
        assert r.speedup_vs_fp32 == pytest.approx(fp32.median_ms / r.median_ms)
        assert r.effective_gbs == pytest.approx(r.weight_bytes / (r.median_ms / 1e3) / 1e9)
        assert r.bandwidth_fraction == pytest.approx(r.effective_gbs / 10.0)
        assert r.median_ms > 0 and r.repeats == 2 and r.threads == 1
        # GEMV streams distinct copies until a call reads >= 5000 bytes of INT4 weights; GEMM runs one copy
        int4_bytes = 48 * 2 * (16 + 4) if r.k == 64 else 16 * 4 * (16 + 4)
        assert r.copies == (-(-5000 // int4_bytes) if r.m == 1 else 1)
    by_kernel = {r.kernel: r for r in rows if (r.k, r.n, r.m) == (100, 16, 1)}
    assert by_kernel[FP32].weight_bytes == 100 * 16 * 4 and by_kernel[FP32].block is None
    # K = 100 pads to 4 blocks of 32: 16 bytes of codes and one fp32 scale per block and column
    assert by_kernel[INT4_ACC0].weight_bytes == by_kernel[INT4_ACC4].weight_bytes == 16 * 4 * (16 + 4)
    assert by_kernel[INT4_ACC0].label == "100x16"


def test_the_goal_summary_counts_each_goal_and_the_bandwidth_goal_only_where_weights_streamed() -> None:
    shapes = [{"label": "a", "streamed": True, "speedup_goal_met": True, "bandwidth_goal_met": False,
               "low_bit_goal_met": True},
              {"label": "b", "streamed": False, "speedup_goal_met": True, "bandwidth_goal_met": True,
               "low_bit_goal_met": False},
              {"label": "c", "streamed": True, "speedup_goal_met": False, "bandwidth_goal_met": True,
               "low_bit_goal_met": False}]
    summary = goal_summary({"speedup": 3.0, "bandwidth": 0.6, "low_bit": 2.0}, shapes)
    assert (summary["speedup_goal"], summary["bandwidth_goal"], summary["low_bit_goal"]) == (3.0, 0.6, 2.0)
    assert summary["per_shape"] == shapes
    # b met the bandwidth goal from cache, not memory: it does not count
    assert (summary["speedup_goal_met_on"], summary["bandwidth_goal_met_on_streamed"],
            summary["low_bit_goal_met_on"]) == ("2/3", "1/2", "1/3")


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="power-of-two block"):
        run_int4_microbench([(64, 32)], repeats=1, block=24, read_gbs=1.0)


def test_the_benchmark_cli_writes_its_report(tmp_path: Path) -> None:
    out = tmp_path / "int4.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "int4_kernels.py"), "--shapes", "64x32",
                           "--repeats", "1", "--threads", "1", "--m", "1", "--stream-mb", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "x fp32" in proc.stdout and "GEMV goals" in proc.stdout
    report = json.loads(out.read_text())
    assert len(report["rows"]) == 3 and report["bandwidth"]["read_gbs"] > 0
    assert report["goals"]["per_shape"][0]["k"] == 64


def test_the_benchmark_cli_rejects_a_malformed_shape(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "int4_kernels.py"), "--shapes", "64by32"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error: shapes must look like")
