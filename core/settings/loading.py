"""Build the settings from defaults, `settings.toml` and `EDGEMIND_*` variables; save changes to the file.

Sources, later wins: defaults in code, `settings.toml` in the data folder, the environment, options.
Every check comes from the declaration; an error names the file or variable, the key and what is valid, in one line.
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, replace
from pathlib import Path
from typing import Any

import platformdirs

from ..data_folder import secure_data_folder, write_private
from ..errors import ConfigError
from .declaration import ENVIRONMENT, SETTINGS, Settings
from .spec import Setting

SETTINGS_FILE = "settings.toml"
_TRUE, _FALSE = ("1", "true", "yes"), ("0", "false", "no")


@dataclass(frozen=True, slots=True)
class SettingValue:
    """One setting as it is in effect, and where it came from: default, file, env or option."""

    setting: Setting
    value: Any
    source: str


def default_home(env: Mapping[str, str]) -> Path:
    if env.get("EDGEMIND_HOME"):
        return Path(env["EDGEMIND_HOME"]).expanduser()
    return Path(platformdirs.user_data_dir("EdgeMind", appauthor=False))


def _validate(key: str, value: Any, where: str, *, from_environment: bool = False) -> Any:
    spec = SETTINGS.get(key)
    if spec is None:
        close = difflib.get_close_matches(key, [n for n, s in SETTINGS.items() if s.in_file], n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        known = sorted(name for name, s in SETTINGS.items() if s.in_file)
        raise ConfigError(f"{where}: unknown setting {key!r}; {hint}known: {', '.join(known)}")
    if not (spec.in_file or from_environment):
        raise ConfigError(f"{where}: {key} is set only by the environment variable {spec.env}")
    if not spec.accepts(value):
        raise ConfigError(f"{where}: {key} = {value!r} is not valid; expected {spec.describe_valid()}")
    return value


def _from_env(spec: Setting, var: str, raw: str) -> Any:
    if spec.base is bool:
        if raw.lower() not in _TRUE + _FALSE:
            raise ConfigError(f"environment {var}: {spec.name} must be true or false, got {raw!r}")
        return raw.lower() in _TRUE
    if spec.base in (int, float):
        try:
            return spec.base(raw)
        except ValueError:
            noun = "an integer" if spec.base is int else "a number"
            raise ConfigError(f"environment {var}: {spec.name} must be {noun}, got {raw!r}") from None
    return raw


def _read_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None


def resolve_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> dict[str, SettingValue]:
    """Every setting's value and source, validated; what `load_settings` builds from and `edgemind settings` shows."""
    env = os.environ if env is None else env
    home = default_home(env)  # first: it holds the file
    found: dict[str, tuple[Any, str]] = {"home": (home, "env" if env.get("EDGEMIND_HOME") else "default")}
    path = home / SETTINGS_FILE
    for key, value in _read_file(path).items():
        found[key] = (_validate(key, value, str(path)), "file")
    for var, key in ENVIRONMENT.items():
        if env.get(var) and key != "home":
            found[key] = (_validate(key, _from_env(SETTINGS[key], var, env[var]), f"environment {var}",
                                    from_environment=True), "env")
    for key, value in overrides.items():
        if value is not None:
            found[key] = (_validate(key, value, "option"), "option")
    resolved = {}
    for name, spec in SETTINGS.items():
        value, source = found.get(name, (spec.default, "default"))
        if value is MISSING:
            value = home / spec.under_home
        resolved[name] = SettingValue(spec, _convert(spec, value), source)
    return resolved


def _convert(spec: Setting, value: Any) -> Any:
    if spec.base is Path:
        value = Path(value).expanduser()
    elif spec.base is tuple:
        value = tuple(value)
    return spec.convert(value) if spec.convert is not None else value


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build the settings; raise ConfigError naming the file, line or key that is wrong."""
    return Settings(**{name: v.value for name, v in resolve_settings(env, **overrides).items()})


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    # JSON's string escapes (\\ \" \n \t \uXXXX) are a subset of TOML basic strings'.
    return json.dumps(str(value), ensure_ascii=False)


def save_settings(home: Path, changes: Mapping[str, Any]) -> Path:
    """Validate `changes` and write them into `<home>/settings.toml`, keeping the file's other keys.

    The file is rewritten whole (comments are not kept) through a temporary file, so a crash never leaves half a file.
    """
    path = home / SETTINGS_FILE
    values: dict[str, Any] = {}
    if path.exists():
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot update it ({exc}); fix or remove it first") from None
    for key, value in changes.items():
        if isinstance(value, Path):
            value = str(value)
        values[key] = _validate(key, value, f"saving {path}")
    lines = ["# EdgeMind settings (written by EdgeMind; see README for every key)"]
    lines += [f"{key} = {_toml_value(values[key])}" for key in sorted(values)]
    try:
        secure_data_folder(home)
        write_private(path, "\n".join(lines) + "\n")  # 0600: it can hold a key (ollama_api_key)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def with_overrides(settings: Settings, **changes: Any) -> Settings:
    for key, value in changes.items():
        _validate(key, value, "option")
    return replace(settings, **changes)


def settings_environment(settings: Settings, names: tuple[str, ...]) -> dict[str, str]:
    """The EDGEMIND_* variables that give a child process these settings' values (each must have a variable)."""
    env = {}
    for name in names:
        spec, value = SETTINGS[name], getattr(settings, name)
        if spec.env is None:
            raise ValueError(f"setting {name} has no environment variable")
        env[spec.env] = str(value).lower() if isinstance(value, bool) else str(value)
    return env
