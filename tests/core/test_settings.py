"""The settings declaration: every key is checked, named in errors and overridable as declared, and
`edgemind settings` shows each value with where it came from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from edgemind.core.bench.child_env import child_env
from edgemind.core.errors import ConfigError
from edgemind.core.settings import (ENVIRONMENT, SETTINGS, Settings, load_settings, resolve_settings, save_settings,
                                    settings_environment, with_overrides)

EDGEMIND = [sys.executable, "-m", "edgemind.core.cli"]


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    return {"EDGEMIND_HOME": str(home)}


def write(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_settings_field_is_declared_and_every_default_is_valid() -> None:
    assert list(SETTINGS) == [f.name for f in fields(Settings)]
    for spec in SETTINGS.values():
        assert spec.help and spec.describe_valid(), spec.name
        if spec.has_default and spec.default is not None:
            assert spec.accepts(spec.default), spec.name


def test_defaults_come_from_the_declaration(env: dict[str, str], home: Path) -> None:
    settings = load_settings(env=env)
    assert settings.home == home and settings.models_dir == home / "models" and settings.artifacts_dir == home / "cache"
    for name, spec in SETTINGS.items():
        if spec.has_default:
            assert getattr(settings, name) == spec.default, name


@pytest.mark.parametrize("var, raw, key, value", [
    ("EDGEMIND_THREADS", "3", "threads", 3),
    ("EDGEMIND_CACHE", "false", "cache_enabled", False),
    ("EDGEMIND_SAFETY", "1", "safety_enabled", True),
    ("EDGEMIND_LOCAL_BACKEND", "onnx_int4", "local_backend", "onnx_int4"),
    ("EDGEMIND_API_RATE_LIMIT", "0", "api_rate_limit_per_minute", 0),
])
def test_an_environment_variable_overrides_the_file(env: dict[str, str], home: Path, var: str, raw: str, key: str,
                                                     value: object) -> None:
    assert ENVIRONMENT[var] == key
    write(home, "threads = 2\ncache_enabled = true\nsafety_enabled = false\napi_rate_limit_per_minute = 60\n")
    resolved = resolve_settings(env={**env, var: raw})
    assert resolved[key].value == value and resolved[key].source == "env"
    assert getattr(load_settings(env={**env, var: raw}), key) == value


@pytest.mark.parametrize("text, says", [
    ("threads = 999", "threads = 999 is not valid; expected an integer from 0 (physical cores) to 512"),
    ("threads = true", "threads = True is not valid"),
    ('context_length = "big"', "context_length = 'big' is not valid; expected an integer from 256 to 1048576"),
    ("cache_ttl_seconds = -1", "expected a number of seconds >= 0 (0: never expire)"),
    ("request_timeout_seconds = 0", "request_timeout_seconds = 0 is not valid; expected a number of seconds > 0"),
    ('onnx_weights = "int2"', "onnx_weights = 'int2' is not valid; expected int4 or accurate"),
    ('ollama_host = "ftp://x"', "ollama_host = 'ftp://x' is not valid; expected an http(s) URL"),
    ("cache_semantic_threshold = 0.2", "expected a cosine similarity from 0.5 to 1.0"),
    ('api_allowed_origins = ["example.com"]', "api_allowed_origins = ['example.com'] is not valid"),
    ("thread = 2", "unknown setting 'thread'; did you mean 'threads'?"),
    ('home = "/elsewhere"', "home is set only by the environment variable EDGEMIND_HOME"),
])
def test_a_wrong_value_in_the_file_names_the_file_and_the_key_in_one_line(env: dict[str, str], home: Path, text: str,
                                                                         says: str) -> None:
    path = write(home, text + "\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(env=env)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and says in message and "\n" not in message


@pytest.mark.parametrize("var, raw, says", [
    ("EDGEMIND_THREADS", "lots", "environment EDGEMIND_THREADS: threads must be an integer, got 'lots'"),
    ("EDGEMIND_THREADS", "-1", "environment EDGEMIND_THREADS: threads = -1 is not valid"),
    ("EDGEMIND_CACHE", "maybe", "environment EDGEMIND_CACHE: cache_enabled must be true or false, got 'maybe'"),
    ("EDGEMIND_ONNX_PROVIDER", "cuda", "onnx_provider = 'cuda' is not valid; expected auto, cpu or directml"),
])
def test_a_wrong_environment_value_names_the_variable_and_the_key(env: dict[str, str], var: str, raw: str,
                                                                  says: str) -> None:
    with pytest.raises(ConfigError, match="^" + "environment " + var) as caught:
        load_settings(env={**env, var: raw})
    assert says in str(caught.value)


def test_save_validates_against_the_declaration_and_round_trips(home: Path, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=r"settings\.toml: max_tokens = 0 is not valid; expected an integer from 1"):
        save_settings(home, {"max_tokens": 0})
    save_settings(home, {"threads": 3, "api_allowed_origins": ["https://app.example/"], "models_dir": home / "m"})
    data = tomllib.loads((home / "settings.toml").read_text(encoding="utf-8"))
    assert data == {"threads": 3, "api_allowed_origins": ["https://app.example/"], "models_dir": str(home / "m")}
    settings = load_settings(env=env)
    assert settings.threads == 3 and settings.api_allowed_origins == ("https://app.example",)
    assert settings.models_dir == home / "m"


def test_with_overrides_checks_each_change(env: dict[str, str]) -> None:
    settings = load_settings(env=env)
    assert with_overrides(settings, start_in_tray=True).start_in_tray is True
    with pytest.raises(ConfigError, match="option: tool_steps = 17 is not valid"):
        with_overrides(settings, tool_steps=17)


def test_a_child_environment_gives_a_child_the_same_values(env: dict[str, str]) -> None:
    settings = with_overrides(load_settings(env=env), threads=5, router_enabled=False)
    names = ("threads", "router_enabled", "models_dir", "default_model")
    child = load_settings(env={**env, **settings_environment(settings, names)})
    assert all(getattr(child, n) == getattr(settings, n) for n in names)
    with pytest.raises(ValueError, match="max_tokens has no environment variable"):
        settings_environment(settings, ("max_tokens",))


def test_a_bench_child_loads_the_parents_settings_in_its_own_data_folder(env: dict[str, str], tmp_path: Path) -> None:
    parent = with_overrides(load_settings(env={**env, "EDGEMIND_MODELS_DIR": str(tmp_path / "m")}), threads=6,
                            cache_enabled=False)
    child = load_settings(env=child_env(parent, home=tmp_path / "child", audit_key_store="file"))
    assert child.home == tmp_path / "child" and child.models_dir == tmp_path / "m" and child.audit_key_store == "file"
    assert (child.threads, child.cache_enabled, child.artifacts_dir) == (6, False, parent.artifacts_dir)


# ---- `edgemind settings`, run as a user runs it --------------------------------------------------------------------
def edgemind(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("EDGEMIND_")}
    return subprocess.run([*EDGEMIND, *args], env={**full, **env}, capture_output=True, text=True, timeout=120)


def test_settings_command_prints_each_value_with_its_source(env: dict[str, str], home: Path) -> None:
    write(home, "threads = 2\n")
    proc = edgemind({**env, "EDGEMIND_CACHE": "0"}, "settings")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"settings file: {home / 'settings.toml'}"
    rows = {line.split()[0]: line for line in lines[1:]}
    assert list(rows) == list(SETTINGS)
    assert rows["threads"].split() == ["threads", "2", "(file)"]
    assert rows["cache_enabled"].split() == ["cache_enabled", "false", "(env", "EDGEMIND_CACHE)"]
    assert rows["max_tokens"].split() == ["max_tokens", "512", "(default)"]
    assert rows["cache_semantic_threshold"].split() == ["cache_semantic_threshold", "unset", "(default)"]


def test_settings_json_is_one_object_and_never_shows_a_secret(env: dict[str, str], home: Path) -> None:
    write(home, 'default_model = "mine"\n')
    proc = edgemind({**env, "EDGEMIND_OLLAMA_API_KEY": "sk-very-secret"}, "settings", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "sk-very-secret" not in proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    assert out["file"] == str(home / "settings.toml") and list(out["settings"]) == list(SETTINGS)
    got = out["settings"]
    assert got["default_model"] == {"value": "mine", "source": "file", "env": "EDGEMIND_DEFAULT_MODEL"}
    assert got["ollama_api_key"] == {"value": "<hidden>", "source": "env", "env": "EDGEMIND_OLLAMA_API_KEY"}
    assert got["home"] == {"value": str(home), "source": "env", "env": "EDGEMIND_HOME"}
    assert got["models_dir"]["value"] == str(home / "models") and got["models_dir"]["source"] == "default"
    assert got["api_allowed_origins"] == {"value": [], "source": "default", "env": None}


def test_settings_command_with_a_bad_file_is_a_one_line_error(env: dict[str, str], home: Path) -> None:
    write(home, "max_loaded_models = 99\n")
    proc = edgemind(env, "settings", "--json")
    assert proc.returncode == 1
    assert proc.stderr.strip() == (f"edgemind: error: {home / 'settings.toml'}: max_loaded_models = 99 is not valid; "
                                   "expected an integer from 1 to 16")
    assert json.loads(proc.stdout)["kind"] == "config"
