"""One validated settings object, built once at start and passed down; nothing deeper reads the environment.

Each setting is declared once, as a field of `Settings` (declaration.py): its checks, its `EDGEMIND_*` variable,
`edgemind settings` and the README table all come from that declaration. Sources, later wins: defaults in code,
`settings.toml` in the data folder, `EDGEMIND_*` environment variables.
"""

from __future__ import annotations

from .declaration import DEFAULT_MODEL, ENVIRONMENT, SETTINGS, Settings
from .loading import (
    SETTINGS_FILE,
    SettingValue,
    default_home,
    load_settings,
    resolve_settings,
    save_settings,
    settings_environment,
    with_overrides,
)
from .spec import Setting
from .table import settings_table_markdown

__all__ = ["DEFAULT_MODEL", "ENVIRONMENT", "SETTINGS", "SETTINGS_FILE", "Setting", "SettingValue", "Settings",
           "default_home", "load_settings", "resolve_settings", "save_settings", "settings_environment",
           "settings_table_markdown", "with_overrides"]
