"""Facts about the machine we run on: cores, memory, CPU name. Read-only; never changes the system."""

from __future__ import annotations

import importlib
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from functools import cache

import psutil


def physical_cores() -> int:
    """Physical cores, the thread count llama.cpp decodes fastest with (hyper-threads only add contention)."""
    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


def cpu_name() -> str:
    if platform.system() == "Linux":
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                for line in f:
                    if line.startswith("model name"):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
    return platform.processor() or platform.machine()


# The instruction-set extensions that decide which llama.cpp CPU code can run (x86: AVX2 laptops up to AVX-512/AMX
# servers; ARM: dot-product and i8mm). Shown by `doctor` and named in native-crash messages.
_FEATURES = ("sse4_2", "avx", "f16c", "fma", "avx2", "bmi2", "avx_vnni", "avx512f", "avx512bw", "avx512vl",
             "avx512_vbmi", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16",
             "asimd", "asimddp", "sve", "sve2", "i8mm", "fphp", "asimdhp")
# Windows' IsProcessorFeaturePresent numbers (winnt.h) for the ones it can tell.
_WINDOWS_FEATURES = {"sse4_2": 38, "avx": 39, "avx2": 40, "avx512f": 41, "asimddp": 43}


@cache  # the CPU does not change while we run; /proc/cpuinfo (or sysctl -a) was read at every encoder build
def cpu_features() -> tuple[str, ...]:
    """The CPU's instruction-set extensions among those llama.cpp dispatches on, as Linux names them."""
    found: set[str] = set()
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                for line in f:
                    if line.startswith(("flags", "Features")):
                        found.update(line.split(":", 1)[1].split())
                        break
        except OSError:
            pass
    elif sys.platform == "win32":
        import ctypes

        present = ctypes.windll.kernel32.IsProcessorFeaturePresent
        found.update(name for name, number in _WINDOWS_FEATURES.items() if present(number))
    elif sys.platform == "darwin":
        try:
            out = subprocess.run(["sysctl", "-a"], capture_output=True, text=True, timeout=5).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        for line in out.splitlines():
            key, _, value = line.partition(":")
            if key.startswith(("machdep.cpu.features", "machdep.cpu.leaf7_features")):
                found.update(v.lower().replace(".", "_") for v in value.split())
            elif key.startswith("hw.optional.arm.FEAT_") and value.strip() == "1":
                found.add({"DotProd": "asimddp", "I8MM": "i8mm", "FP16": "fphp"}.get(key.rsplit("_", 1)[1], key))
            elif key.strip() == "hw.optional.avx2_0" and value.strip() == "1":
                found.add("avx2")
            elif key.strip() == "hw.optional.avx512f" and value.strip() == "1":
                found.add("avx512f")
    return tuple(f for f in _FEATURES if f in found)


def has_vnni(features: tuple[str, ...] | None = None) -> bool:
    """Whether the CPU multiplies u8 by s8 without saturating (AVX512-VNNI or AVX-VNNI), which decides how the
    embedding encoder stores its int8 weights.

    Windows' feature API cannot tell VNNI, so numpy's own CPUID probe (it names AVX512VNNI, not AVX-VNNI) fills in.
    A CPU we cannot tell counts as without: that choice is exact everywhere, only slower."""
    found = set(cpu_features() if features is None else features)
    if found & {"avx512_vnni", "avx_vnni"}:
        return True
    if features is not None:
        return False
    for module in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):  # numpy 2, numpy 1
        try:
            probed = getattr(importlib.import_module(module), "__cpu_features__", {})
        except ImportError:
            continue
        return bool(probed.get("AVX512VNNI"))
    return False


@dataclass(frozen=True, slots=True)
class HardwareProfile:
    os: str
    cpu: str
    cpu_features: tuple[str, ...]
    physical_cores: int
    logical_cores: int
    memory_total_bytes: int
    memory_available_bytes: int

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}


def hardware_profile() -> HardwareProfile:
    vm = psutil.virtual_memory()
    return HardwareProfile(
        os=f"{platform.system()} {platform.release()} ({platform.machine()})",
        cpu=cpu_name(),
        cpu_features=cpu_features(),
        physical_cores=physical_cores(),
        logical_cores=os.cpu_count() or 1,
        memory_total_bytes=vm.total,
        memory_available_bytes=vm.available,
    )
