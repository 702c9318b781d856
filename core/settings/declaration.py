"""Every setting, declared once: the `Settings` fields below carry type, default, valid values, environment variable,
help and GUI visibility. Validation, the environment map, `edgemind settings` and the README table come from here.

Add a setting by adding a field; nothing else lists the keys. Never reads files or the environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import get_type_hints

from ..hardware import physical_cores
from .spec import KEY, Setting, complete, setting

DEFAULT_MODEL = "qwen2.5-coder-0.5b-instruct"
_URL = ("http://", "https://")
# a global shortcut: one or more modifiers, then a letter, a digit, Space or F1-F12 (app/hotkey.py parses the same)
_HOTKEY = re.compile(r"((ctrl|control|alt|shift|super|meta|win|cmd)\+)+([a-z0-9]|space|f([1-9]|1[0-2]))",
                     re.IGNORECASE)


def _origins(value: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(origin.rstrip("/") for origin in value)


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path = setting(
        help="The data folder: database, cache, models and settings.toml",
        env="EDGEMIND_HOME", expected="a folder path", in_file=False)
    models_dir: Path = setting(
        help="Where installed and bundled GGUF models live", env="EDGEMIND_MODELS_DIR", expected="a folder path",
        under_home="models")
    artifacts_dir: Path = setting(
        help="Derived artifacts (built ONNX encoders, trained classifiers): safe to delete, rebuilt on use",
        env="EDGEMIND_ARTIFACTS_DIR", expected="a folder path", under_home="cache")
    default_model: str = setting(
        DEFAULT_MODEL, help="The model that answers when none is chosen", env="EDGEMIND_DEFAULT_MODEL",
        expected="a model id", gui=True)
    threads: int = setting(
        0, help="CPU threads a local model uses", env="EDGEMIND_THREADS", minimum=0, maximum=512,
        zero="physical cores", gui=True)
    local_backend: str = setting(
        "llama_cpp", help="Which engine runs local GGUF models: llama.cpp, our own INT4 decoder on ONNX Runtime, or "
        "our own C decoder over the T-MAC kernels (tmac)", env="EDGEMIND_LOCAL_BACKEND",
        choices=("llama_cpp", "onnx_int4", "tmac"))
    onnx_provider: str = setting(
        "auto", help="onnx_int4's execution provider; auto: DirectML when present, else CPU",
        env="EDGEMIND_ONNX_PROVIDER", choices=("auto", "cpu", "directml"))
    # accurate is the default: exact for Q5_0/Q8_0 and no slower than int4 on the CPUs measured
    onnx_weights: str = setting(
        "accurate", help="onnx_int4's weights: accurate (8 bits where the GGUF has 5-8) or int4 (4 bits where it "
        "has 4-5: smaller, ~1.4% worse perplexity on Q5_0 models)", env="EDGEMIND_ONNX_WEIGHTS",
        choices=("int4", "accurate"))
    context_length: int = setting(
        4096, help="Context allocated per model (the model's own limit still applies)", env="EDGEMIND_CONTEXT_LENGTH",
        minimum=256, maximum=1_048_576, gui=True)
    max_tokens: int = setting(
        512, help="Longest answer, in tokens", minimum=1, maximum=131_072, gui=True)
    idle_unload_seconds: float = setting(
        600.0, help="Unload a model unused this long (0: never)", minimum=0, what="a number of seconds")
    max_loaded_models: int = setting(
        2, help="Models kept in memory at once", minimum=1, maximum=16)
    ollama_host: str = setting(
        "http://127.0.0.1:11434", help="The Ollama server whose models EdgeMind lists and uses",
        env="EDGEMIND_OLLAMA_HOST", check=lambda v: v.startswith(_URL), expected="an http(s) URL")
    ollama_api_key: str | None = setting(
        None, help="Key for an Ollama-compatible server behind one (such as another EdgeMind); Ollama has none",
        env="EDGEMIND_OLLAMA_API_KEY", expected="a non-empty key", secret=True)
    model_hub_url: str = setting(
        "https://huggingface.co", help="Where `edgemind models pull` downloads catalogue models from (the Hugging "
        "Face hub or a mirror of it; HF_ENDPOINT also sets it)", env="EDGEMIND_MODEL_HUB_URL",
        check=lambda v: v.startswith(_URL), expected="an http(s) URL")
    request_timeout_seconds: float = setting(
        60.0, help="How long a request to a model server, or a wait for a busy model, may take",
        check=lambda v: v > 0, expected="a number of seconds > 0")
    cache_enabled: bool = setting(
        True, help="Reuse answers to identical questions", env="EDGEMIND_CACHE", gui=True)
    cache_memory_entries: int = setting(
        256, help="Answers kept in memory", minimum=0, maximum=1_000_000, gui=True)
    cache_disk_mb: int = setting(
        64, help="Largest size of the answer cache on disk", minimum=1, maximum=1_000_000,
        what="a number of megabytes", gui=True)
    cache_ttl_seconds: float = setting(
        7 * 86400, help="How long a cached answer is served", minimum=0, what="a number of seconds",
        zero="never expire", gui=True)
    cache_semantic_enabled: bool = setting(
        True, help="A stand-alone prompt at temperature 0 that means the same as an answered one gets its answer",
        env="EDGEMIND_SEMANTIC_CACHE")
    cache_semantic_threshold: float | None = setting(
        None, help="Cosine similarity for the semantic cache; unset: the value tuned on the shipped labelled set",
        minimum=0.5, maximum=1.0, what="a cosine similarity")
    # the live KV is reused anyway; these are snapshots of recent system-prompt prefixes per loaded model
    prefix_cache_mb: int = setting(
        64, help="llama.cpp KV snapshots of recent system prompts, per loaded model", minimum=0, maximum=65_536,
        what="a number of megabytes", zero="off")
    distill_enabled: bool = setting(
        True, help="Distillation may learn from your answered prompts (conversations you excluded never)",
        env="EDGEMIND_DISTILL", gui=True)
    # on by default since session 33: on a blind split written before the change (docs/benchmarks.md, Safety checks)
    # it refused 93.0% of harmful prompts and 4.3% of benign ones, meeting issue 17's >= 90% / <= 5%; `--no-safety`
    # turns it off for one run
    safety_enabled: bool = setting(
        True, help="Check prompts and answers for harmful content (see Safety checks)",
        env="EDGEMIND_SAFETY", gui=True)
    router_enabled: bool = setting(
        True, help="Choose the model by the prompt's intent", env="EDGEMIND_ROUTER", gui=True)
    route_to_strongest: bool = setting(
        True, help="Send math and code to the strongest installed model when one is bigger than the default",
        env="EDGEMIND_ROUTE_TO_STRONGEST", gui=True)
    web_fetch_enabled: bool = setting(
        False, help="The web_fetch tool; even when on, each host needs its own `net:<host>` grant",
        env="EDGEMIND_WEB_FETCH")
    audit_key_store: str = setting(
        "auto", help="Where EdgeMind's secrets live (the audit log's seal key and anchor digest, remote servers' "
        "API keys); auto: the OS keyring when one works, else 0600 files in the data folder",
        env="EDGEMIND_AUDIT_KEY_STORE", choices=("auto", "keyring", "file"))
    tool_steps: int = setting(
        4, help="Most tool calls the model may make for one prompt (0: never offer tools)", minimum=0, maximum=16)
    max_queued_requests: int = setting(
        8, help="Requests that may wait for a busy model; one more is refused as busy (API: 503)",
        env="EDGEMIND_MAX_QUEUED_REQUESTS", minimum=0, maximum=10_000, zero="no bound")
    api_port: int = setting(
        8642, help="The port `edgemind serve` and the desktop app's API server listen on", minimum=1,
        maximum=65535, what="a TCP port")
    api_server_enabled: bool = setting(
        False, help="Desktop app: serve the API on 127.0.0.1:api_port while it runs", gui=True)
    api_rate_limit_per_minute: int = setting(
        120, help="API requests per minute, per API key", env="EDGEMIND_API_RATE_LIMIT", minimum=0,
        maximum=1_000_000, zero="no limit")
    api_max_body_bytes: int = setting(
        4 * 1024 * 1024, help="Largest API request body", minimum=1024, maximum=1 << 30, what="a number of bytes")
    api_max_messages: int = setting(
        1000, help="Most messages one API request may carry, refused (400) before any work; its prompt text is also "
        "capped at context_length x 8 characters", minimum=1, maximum=100_000)
    api_allowed_origins: tuple[str, ...] = setting(
        (), help="Browser origins allowed to call the API besides loopback ones",
        check=lambda v: all(isinstance(o, str) and "://" in o for o in v),
        expected='a list of origins like "https://app.example"', convert=_origins)
    close_to_tray: bool = setting(
        True, help="Desktop app: closing the main window keeps EdgeMind in the tray", gui=True)
    start_in_tray: bool = setting(
        False, help="Desktop app: start hidden in the tray", gui=True)
    quick_ask_hotkey: str = setting(
        "Ctrl+Alt+Space", help="Desktop app: the global shortcut that opens quick ask (Windows, macOS, X11; on "
        "Wayland bind `edgemind quick` in the desktop's keyboard settings)", env="EDGEMIND_QUICK_ASK_HOTKEY",
        check=lambda v: isinstance(v, str) and _HOTKEY.fullmatch(v.replace(" ", "")) is not None,
        expected='modifiers and one key joined by +, like "Ctrl+Alt+Space" or "Super+Shift+E"', gui=True)
    editor_command: str = setting(
        "", help="Desktop app: the command that opens a cited document at its line, {path} and {line} filled in "
        "(e.g. `code --goto {path}:{line}`); empty: the system's default application for the file",
        env="EDGEMIND_EDITOR_COMMAND", check=lambda v: not v.strip() or "{path}" in v,
        expected="a command containing {path} (and optionally {line}), or empty")

    @property
    def db_path(self) -> Path:
        return self.home / "edgemind.db"

    @property
    def effective_threads(self) -> int:
        return self.threads or physical_cores()


def _declared() -> dict[str, Setting]:
    hints = get_type_hints(Settings)
    return {f.name: complete(f.metadata[KEY], f.name, hints[f.name], f.default) for f in fields(Settings)}


SETTINGS: dict[str, Setting] = _declared()
"""Every setting by name, in declaration order."""

ENVIRONMENT: dict[str, str] = {s.env: s.name for s in SETTINGS.values() if s.env}
"""EDGEMIND_* variable -> setting name."""
