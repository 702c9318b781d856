"""system_info: nothing without the system.info grant; with it, the documented facts with sane values."""

from __future__ import annotations

import json
import os
import platform

from sqlalchemy.orm import sessionmaker

from edgemind.core.storage.db import open_database
from edgemind.core.settings import Settings
from edgemind.core.tools.session import open_tool_runner

KEYS = {"os", "machine", "cpu", "cores_physical", "cores_logical", "memory_total_gb", "memory_available_gb",
        "disk_total_gb", "disk_free_gb", "python", "battery"}


def test_denied_without_system_info(settings: Settings) -> None:
    runner = open_tool_runner(settings, sessionmaker(open_database(settings.db_path)), grants=["code.exec"])
    outcome = runner.call("system_info", {})
    assert outcome.decision == "denied:no_one_to_ask" and not outcome.ok
    assert outcome.content == "error: permission denied for system_info (system.info)"


def test_reports_the_documented_facts(settings: Settings) -> None:
    runner = open_tool_runner(settings, sessionmaker(open_database(settings.db_path)), grants=["system.info"])
    outcome = runner.call("system_info", {})
    assert outcome.ok and outcome.decision == "allowed:preset"
    info = json.loads(outcome.content)
    assert set(info) == KEYS
    assert info["os"].startswith(platform.system())
    assert info["python"] == platform.python_version()
    assert info["cores_logical"] == os.cpu_count() and info["cores_logical"] >= 1
    assert info["cores_physical"] is None or 1 <= info["cores_physical"] <= info["cores_logical"]
    assert 0 < info["memory_available_gb"] <= info["memory_total_gb"]
    assert 0 <= info["disk_free_gb"] <= info["disk_total_gb"] and info["disk_total_gb"] > 0
    battery = info["battery"]
    assert battery is None or (0 <= battery["percent"] <= 100 and isinstance(battery["plugged_in"], (bool, type(None))))


def test_takes_no_arguments(settings: Settings) -> None:
    runner = open_tool_runner(settings, sessionmaker(open_database(settings.db_path)), grants=["system.info"])
    assert runner.call("system_info", {"path": "/etc"}).decision == "rejected"
