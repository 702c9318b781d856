"""The machine a report was measured on: CPU, cores, RAM, measured memory bandwidth, providers, versions.

Figures from two reports only compare when these match; bandwidth is measured, not looked up, because decode
speed is bounded by it (bytes of weights read per token).
"""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

from edgemind.kernels.bandwidth import measure_bandwidth

from ..hardware import hardware_profile


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _providers() -> list[str]:
    try:
        import onnxruntime
    except ImportError:
        return []
    return list(onnxruntime.get_available_providers())


def machine_profile(*, bandwidth_mb: int = 256, bandwidth_repeats: int = 5) -> dict[str, Any]:
    """Everything a reader needs to judge whether two reports are comparable (~1-2 s, most of it the bandwidth)."""
    hw = hardware_profile()
    bw = measure_bandwidth(bandwidth_mb, bandwidth_repeats)
    return {
        "cpu": hw.cpu,
        "physical_cores": hw.physical_cores,
        "logical_cores": hw.logical_cores,
        "memory_total_bytes": hw.memory_total_bytes,
        "memory_available_bytes": hw.memory_available_bytes,
        "memory_read_gbs": round(bw.read_gbs, 2),
        "memory_copy_gbs": round(bw.copy_gbs, 2),
        "bandwidth_buffer_mb": bw.buffer_mb,
        "onnxruntime_providers": _providers(),
        "os": hw.os,
        "versions": {
            "python": platform.python_version(),
            "edgemind": _version("edgemind"),
            "llama-cpp-python": _version("llama_cpp_python") or _version("llama-cpp-python"),
            "onnxruntime": _version("onnxruntime") or _version("onnxruntime-directml"),
            "numpy": _version("numpy"),
        },
    }
