"""Facts about the machine we run on: cores, memory, CPU name. Read-only; never changes the system."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class HardwareProfile:
    os: str
    cpu: str
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
        physical_cores=physical_cores(),
        logical_cores=os.cpu_count() or 1,
        memory_total_bytes=vm.total,
        memory_available_bytes=vm.available,
    )
