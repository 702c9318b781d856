"""Every SIMD path of the T-MAC C code against its scalar path, through tests/kernels/tmac_harness.c (no Python
inside): natively for x86's AVX2/AVX-512, and for NEON cross-compiled to aarch64 and run under qemu where
aarch64-linux-gnu-gcc and qemu-aarch64 are installed (apt-get install gcc-aarch64-linux-gnu qemu-user)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

HARNESS = Path(__file__).with_name("tmac_harness.c")
FLAGS = ["-O2", "-ffp-contract=off", "-pthread"]


def build_and_run(compiler: str, out: Path, *, runner: list[str], extra: tuple[str, ...] = ()) -> str:
    subprocess.run([compiler, *FLAGS, *extra, "-o", str(out), str(HARNESS), "-lm"], check=True, capture_output=True,
                   text=True, timeout=120)
    done = subprocess.run([*runner, str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def test_native_simd_paths_agree_with_the_scalar_path(tmp_path: Path) -> None:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler here")
    line = build_and_run(compiler, tmp_path / "harness", runner=[])
    assert line.startswith("ok ")  # "ok 0" on a CPU without a SIMD path; 24 here with AVX2 and AVX-512


def test_the_neon_path_agrees_with_the_scalar_path_under_qemu(tmp_path: Path) -> None:
    cross, qemu = shutil.which("aarch64-linux-gnu-gcc"), shutil.which("qemu-aarch64")
    if cross is None or qemu is None:
        pytest.skip("needs aarch64-linux-gnu-gcc and qemu-aarch64 (apt-get install gcc-aarch64-linux-gnu qemu-user)")
    line = build_and_run(cross, tmp_path / "harness-arm64", runner=[qemu], extra=("-static",))
    assert line == "ok 12"  # 1-, 2- and 4-bit, with and without mins, two shapes each
