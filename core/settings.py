"""One validated settings object, built once at start and passed down; nothing deeper reads the environment.

Sources, later wins: defaults in code, `settings.toml` in the data folder, `EDGEMIND_*` environment variables.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping

import platformdirs

from .errors import ConfigError
from .hardware import physical_cores

SETTINGS_FILE = "settings.toml"
DEFAULT_MODEL = "qwen2.5-coder-0.5b-instruct"


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    models_dir: Path
    # derived artifacts (built ONNX encoders, trained classifier weights): safe to delete, rebuilt on use
    artifacts_dir: Path
    default_model: str = DEFAULT_MODEL
    threads: int = 0  # 0: physical cores
    # Which engine runs local GGUF models: llama_cpp, or onnx_int4 (our own INT4 decoder on onnxruntime)
    local_backend: str = "llama_cpp"
    onnx_provider: str = "auto"  # onnx_int4's execution provider: auto (DirectML when present, else CPU), cpu, directml
    # onnx_int4 weight preset: accurate (8 bits where the GGUF has 5-8, exact for Q5_0/Q8_0; no slower than int4 on
    # the CPUs measured) or int4 (4 bits wherever the GGUF has 4-5; smaller, ~1.4% worse perplexity on Q5_0 models)
    onnx_weights: str = "accurate"
    context_length: int = 4096  # cap on the context we allocate; the model's own limit still applies
    max_tokens: int = 512
    idle_unload_seconds: float = 600.0
    max_loaded_models: int = 2
    ollama_host: str = "http://127.0.0.1:11434"
    # Only for an Ollama-compatible server behind a key (e.g. another EdgeMind's `serve`); Ollama itself has none.
    ollama_api_key: str | None = None
    request_timeout_seconds: float = 60.0
    cache_enabled: bool = True
    cache_memory_entries: int = 256
    cache_disk_mb: int = 64
    cache_ttl_seconds: float = 7 * 86400  # 0: answers never expire
    # semantic tier: a stand-alone prompt at temperature 0 that means the same as an answered one gets its answer
    cache_semantic_enabled: bool = True
    cache_semantic_threshold: float | None = None  # cosine; None: the threshold tuned on the shipped labelled set
    # llama.cpp KV snapshots of recent system-prompt prefixes per loaded model (0: off; the live KV is reused anyway)
    prefix_cache_mb: int = 64
    # Off by default until the checker meets its goals: it still refuses some ordinary prompts (see README).
    safety_enabled: bool = False
    router_enabled: bool = True
    # tools
    web_fetch_enabled: bool = False  # even when on, each host needs its own net:<host> grant
    audit_key_store: str = "auto"  # auto: the OS keyring when one works, else <home>/audit.key (0600)
    tool_steps: int = 4  # most tool calls the model may make for one prompt
    # Requests that may wait for a model while it answers another; one more is refused as busy (API: 503).
    max_queued_requests: int = 8
    # `edgemind serve`
    api_port: int = 8642
    api_server_enabled: bool = False  # desktop app: serve the API on 127.0.0.1:api_port while it runs
    api_rate_limit_per_minute: int = 120  # per API key; 0: no limit
    api_max_body_bytes: int = 4 * 1024 * 1024
    api_allowed_origins: tuple[str, ...] = ()  # browser origins allowed besides loopback ones, e.g. "https://app.example"
    # desktop app: closing the main window keeps EdgeMind in the tray; start hidden in the tray
    close_to_tray: bool = True
    start_in_tray: bool = False

    @property
    def db_path(self) -> Path:
        return self.home / "edgemind.db"

    @property
    def effective_threads(self) -> int:
        return self.threads or physical_cores()


# key -> (type, check, description of a valid value)
_CHECKS: dict[str, tuple[type | tuple[type, ...], Any, str]] = {
    "default_model": (str, lambda v: bool(v.strip()), "a model id"),
    "threads": (int, lambda v: 0 <= v <= 512, "an integer from 0 (physical cores) to 512"),
    "local_backend": (str, lambda v: v in ("llama_cpp", "onnx_int4"), "llama_cpp or onnx_int4"),
    "onnx_weights": (str, lambda v: v in ("int4", "accurate"), "int4 or accurate"),
    "onnx_provider": (str, lambda v: v in ("auto", "cpu", "directml"), "auto, cpu or directml"),
    "context_length": (int, lambda v: 256 <= v <= 1_048_576, "an integer from 256 to 1048576"),
    "max_tokens": (int, lambda v: 1 <= v <= 131_072, "an integer from 1 to 131072"),
    "idle_unload_seconds": ((int, float), lambda v: v >= 0, "a number of seconds >= 0"),
    "max_loaded_models": (int, lambda v: 1 <= v <= 16, "an integer from 1 to 16"),
    "ollama_host": (str, lambda v: v.startswith(("http://", "https://")), "an http(s) URL"),
    "request_timeout_seconds": ((int, float), lambda v: v > 0, "a number of seconds > 0"),
    "models_dir": (str, lambda v: bool(v.strip()), "a folder path"),
    "artifacts_dir": (str, lambda v: bool(v.strip()), "a folder path"),
    "cache_enabled": (bool, lambda v: True, "true or false"),
    "safety_enabled": (bool, lambda v: True, "true or false"),
    "router_enabled": (bool, lambda v: True, "true or false"),
    "web_fetch_enabled": (bool, lambda v: True, "true or false"),
    "audit_key_store": (str, lambda v: v in ("auto", "keyring", "file"), "auto, keyring or file"),
    "tool_steps": (int, lambda v: 0 <= v <= 16, "an integer from 0 to 16"),
    "close_to_tray": (bool, lambda v: True, "true or false"),
    "api_server_enabled": (bool, lambda v: True, "true or false"),
    "start_in_tray": (bool, lambda v: True, "true or false"),
    "cache_memory_entries": (int, lambda v: 0 <= v <= 1_000_000, "an integer from 0 to 1000000"),
    "cache_disk_mb": (int, lambda v: 1 <= v <= 1_000_000, "a number of megabytes from 1 to 1000000"),
    "cache_ttl_seconds": ((int, float), lambda v: v >= 0, "a number of seconds >= 0 (0: never expire)"),
    "cache_semantic_enabled": (bool, lambda v: True, "true or false"),
    "cache_semantic_threshold": ((int, float), lambda v: 0.5 <= v <= 1.0, "a cosine similarity from 0.5 to 1.0"),
    "prefix_cache_mb": (int, lambda v: 0 <= v <= 65_536, "a number of megabytes from 0 (off) to 65536"),
    "ollama_api_key": (str, lambda v: bool(v.strip()), "a non-empty key"),
    "max_queued_requests": (int, lambda v: 0 <= v <= 10_000, "an integer from 0 (no bound) to 10000"),
    "api_port": (int, lambda v: 1 <= v <= 65535, "a TCP port from 1 to 65535"),
    "api_rate_limit_per_minute": (int, lambda v: 0 <= v <= 1_000_000, "an integer from 0 (no limit) to 1000000"),
    "api_max_body_bytes": (int, lambda v: 1024 <= v <= 1 << 30, "a number of bytes from 1024 to 1073741824"),
    "api_allowed_origins": ((list, tuple), lambda v: all(isinstance(o, str) and "://" in o for o in v),
                            "a list of origins like \"https://app.example\""),
}

_ENV = {
    "EDGEMIND_DEFAULT_MODEL": "default_model",
    "EDGEMIND_THREADS": "threads",
    "EDGEMIND_MODELS_DIR": "models_dir",
    "EDGEMIND_ARTIFACTS_DIR": "artifacts_dir",
    "EDGEMIND_OLLAMA_HOST": "ollama_host",
    "EDGEMIND_CONTEXT_LENGTH": "context_length",
    "EDGEMIND_LOCAL_BACKEND": "local_backend",
    "EDGEMIND_ONNX_PROVIDER": "onnx_provider",
    "EDGEMIND_ONNX_WEIGHTS": "onnx_weights",
    "EDGEMIND_CACHE": "cache_enabled",
    "EDGEMIND_SEMANTIC_CACHE": "cache_semantic_enabled",
    "EDGEMIND_SAFETY": "safety_enabled",
    "EDGEMIND_ROUTER": "router_enabled",
    "EDGEMIND_WEB_FETCH": "web_fetch_enabled",
    "EDGEMIND_AUDIT_KEY_STORE": "audit_key_store",
    "EDGEMIND_OLLAMA_API_KEY": "ollama_api_key",
    "EDGEMIND_MAX_QUEUED_REQUESTS": "max_queued_requests",
    "EDGEMIND_API_RATE_LIMIT": "api_rate_limit_per_minute",
}


def default_home(env: Mapping[str, str]) -> Path:
    if env.get("EDGEMIND_HOME"):
        return Path(env["EDGEMIND_HOME"]).expanduser()
    return Path(platformdirs.user_data_dir("EdgeMind", appauthor=False))


def _validate(key: str, value: Any, where: str) -> Any:
    if key not in _CHECKS:
        raise ConfigError(f"{where}: unknown setting {key!r}; known: {', '.join(sorted(_CHECKS))}")
    kind, check, wanted = _CHECKS[key]
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind) or not check(value):
        raise ConfigError(f"{where}: {key} = {value!r} is not valid; expected {wanted}")
    return value


def _from_env(key: str, raw: str) -> Any:
    kind = _CHECKS[key][0]
    if kind is bool:
        if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise ConfigError(f"environment: {key} must be true or false, got {raw!r}")
        return raw.lower() in ("1", "true", "yes")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"environment: {key} must be an integer, got {raw!r}") from None
    return raw


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build the settings; raise ConfigError naming the file, line or key that is wrong."""
    env = os.environ if env is None else env
    home = default_home(env)
    values: dict[str, Any] = {}
    path = home / SETTINGS_FILE
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read ({exc})") from None
        for key, value in data.items():
            values[key] = _validate(key, value, str(path))
    for var, key in _ENV.items():
        if env.get(var):
            values[key] = _validate(key, _from_env(key, env[var]), f"environment {var}")
    for key, value in overrides.items():
        if value is not None:
            values[key] = _validate(key, value, "option")
    models_dir = Path(values.pop("models_dir", home / "models")).expanduser()
    artifacts_dir = Path(values.pop("artifacts_dir", home / "cache")).expanduser()
    if "api_allowed_origins" in values:
        values["api_allowed_origins"] = tuple(o.rstrip("/") for o in values["api_allowed_origins"])
    known = {f.name for f in fields(Settings)}
    return Settings(home=home, models_dir=models_dir, artifacts_dir=artifacts_dir,
                    **{k: v for k, v in values.items() if k in known})


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
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
        values[key] = _validate(key, value, "settings")
    lines = ["# EdgeMind settings (written by EdgeMind; see README for every key)"]
    lines += [f"{key} = {_toml_value(values[key])}" for key in sorted(values)]
    try:
        home.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".toml.tmp")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def with_overrides(settings: Settings, **changes: Any) -> Settings:
    for key, value in changes.items():
        _validate(key, value, "option")
    return replace(settings, **changes)
