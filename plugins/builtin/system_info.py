"""Facts about this machine (OS, CPU, memory, disk, battery) through psutil: read-only, nothing personal."""

from __future__ import annotations

import platform
import shutil
from pathlib import Path

import psutil

from edgemind.plugins.sdk import tool


@tool(plugin="system_info", scopes=["system.info"], timeout_s=5)
def system_info() -> dict[str, object]:
    """Report the operating system, CPU, memory, disk space and battery of this computer."""
    memory = psutil.virtual_memory()
    disk = shutil.disk_usage(Path.home())
    info: dict[str, object] = {
        "os": f"{platform.system()} {platform.release()}", "machine": platform.machine(),
        "cpu": platform.processor() or platform.machine(),
        "cores_physical": psutil.cpu_count(logical=False), "cores_logical": psutil.cpu_count(logical=True),
        "memory_total_gb": round(memory.total / 2**30, 1), "memory_available_gb": round(memory.available / 2**30, 1),
        "disk_total_gb": round(disk.total / 2**30, 1), "disk_free_gb": round(disk.free / 2**30, 1),
        "python": platform.python_version(),
    }
    battery = psutil.sensors_battery() if hasattr(psutil, "sensors_battery") else None
    info["battery"] = None if battery is None else {"percent": round(battery.percent),
                                                    "plugged_in": battery.power_plugged}
    return info


TOOLS = [system_info]
