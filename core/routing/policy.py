"""The intent router's policy: per intent the model, system prompt, generation settings and tools, plus the
confidence below which the router falls back. Shipped in resources/, overridable key by key from the data folder.

Loading validates everything and raises ConfigError naming the file, line and key; nothing else reads the file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..classify.policy_file import PolicySource, config_error, is_number, read_policy, require, resource_path
from .signals import INTENTS

POLICY_FILE = "router_policy.toml"
WHAT = "router policy"
DEFAULT_MODEL = "default"  # in a policy: "the configured default model"
STRONGEST_MODEL = "strongest"  # in a policy: "the strongest installed model" (the default when none is stronger)
_TOP_KEYS = ("router", "intents")
_ROUTER_KEYS = ("confidence_threshold", "fallback_intent", "unsure_model", "offer_tools")
# "when_needed": an intent's tools only when the prompt shows it needs them (core/routing/offers.py);
# "with_intent": every tool of the intent, as before (the baseline benchmarks/tool_offers.py measures against).
OFFER_MODES = ("when_needed", "with_intent")
_INTENT_KEYS = ("model", "system_prompt", "params", "tools")
_PARAM_KEYS = ("temperature", "max_tokens")


@dataclass(frozen=True, slots=True)
class IntentParams:
    """Generation settings for an intent; None leaves the engine's own default (or the user's option) in place."""

    temperature: float | None = None
    max_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class IntentPolicy:
    model: str  # a model id, or DEFAULT_MODEL
    system_prompt: str
    params: IntentParams
    tools: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RouterPolicy:
    intents: dict[str, IntentPolicy]
    confidence_threshold: float
    fallback_intent: str
    unsure_model: str = ""  # a model id that settles unsure prompts; empty: they go to fallback_intent
    offer_tools: str = "when_needed"  # one of OFFER_MODES

    def fingerprint(self) -> str:
        """A hash of the whole policy, for caches and logs."""
        text = json.dumps(
            {"threshold": self.confidence_threshold, "fallback": self.fallback_intent, "unsure": self.unsure_model,
             "offer_tools": self.offer_tools,
             "intents": {name: [p.model, p.system_prompt, p.params.temperature, p.params.max_tokens, list(p.tools)]
                         for name, p in sorted(self.intents.items())}},
            sort_keys=True,
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def default_policy_path() -> Path:
    return resource_path(POLICY_FILE)


def load_router_policy(override: Path | None = None, *, base: Path | None = None) -> RouterPolicy:
    """The shipped policy (or `base`) with `override` (normally `<data folder>/router_policy.toml`) merged over it
    when that file exists."""
    return _build(read_policy(base or default_policy_path(), override, WHAT, _check).data)


def _check(data: Mapping[str, Any], src: PolicySource) -> None:
    """Check every key one file has (an override may leave any out; _build checks that the result is complete)."""
    for key, value in data.items():
        if key not in _TOP_KEYS:
            raise config_error(src, key, f"unknown key; known: {', '.join(_TOP_KEYS)}")
        if not isinstance(value, dict):
            raise config_error(src, key, "must be a table")
    router = data.get("router", {})
    for key, value in router.items():
        where = f"router.{key}"
        if key not in _ROUTER_KEYS:
            raise config_error(src, where, f"unknown key; known: {', '.join(_ROUTER_KEYS)}")
        if key == "confidence_threshold" and not (is_number(value) and 0 <= value <= 1):
            raise config_error(src, where, f"{value!r} is not a number from 0 to 1")
        if key == "fallback_intent" and value not in INTENTS:
            raise config_error(src, where, f"{value!r} is not one of {', '.join(INTENTS)}")
        if key == "unsure_model" and not isinstance(value, str):
            raise config_error(src, where, f"{value!r} is not a model id (text; \"\" turns it off)")
        if key == "offer_tools" and value not in OFFER_MODES:
            raise config_error(src, where, f"{value!r} is not one of {', '.join(OFFER_MODES)}")
    for name, table in data.get("intents", {}).items():
        if name not in INTENTS:
            raise config_error(src, f"intents.{name}", f"unknown intent; known: {', '.join(INTENTS)}")
        if not isinstance(table, dict):
            raise config_error(src, f"intents.{name}", "must be a table")
        for key, value in table.items():
            _check_intent_key(src, f"intents.{name}.{key}", key, value)


def _check_intent_key(src: PolicySource, where: str, key: str, value: Any) -> None:
    if key not in _INTENT_KEYS:
        raise config_error(src, where, f"unknown key; known: {', '.join(_INTENT_KEYS)}")
    if key in ("model", "system_prompt") and not (isinstance(value, str) and value.strip()):
        hint = ' (a model id, "default" or "strongest")' if key == "model" else ""
        raise config_error(src, where, f"must be a non-empty string{hint}")
    if key == "tools" and not (isinstance(value, list) and all(isinstance(t, str) and t.strip() for t in value)):
        raise config_error(src, where, 'must be an array of tool names, e.g. ["calculator"] (or [] for none)')
    if key == "params":
        if not isinstance(value, dict):
            raise config_error(src, where, "must be a table")
        for param, setting in value.items():
            if param not in _PARAM_KEYS:
                raise config_error(src, f"{where}.{param}", f"unknown key; known: {', '.join(_PARAM_KEYS)}")
            if param == "temperature" and not (is_number(setting) and 0 <= setting <= 2):
                raise config_error(src, f"{where}.{param}", f"{setting!r} is not a number from 0 to 2")
            if param == "max_tokens" and not (isinstance(setting, int) and not isinstance(setting, bool)
                                              and 1 <= setting <= 131_072):
                raise config_error(src, f"{where}.{param}", f"{setting!r} is not an integer from 1 to 131072")


def _build(data: Mapping[str, Any]) -> RouterPolicy:
    def need(table: Mapping[str, Any], key: str, where: str) -> Any:
        return require(table, key, WHAT, where)

    router = need(data, "router", "[router]")
    intents = need(data, "intents", "[intents]")
    built = {}
    for name in INTENTS:
        table = need(intents, name, f"[intents.{name}]")
        params = table.get("params", {})
        built[name] = IntentPolicy(
            model=need(table, "model", f"intents.{name}.model").strip(),
            system_prompt=need(table, "system_prompt", f"intents.{name}.system_prompt").strip(),
            params=IntentParams(
                temperature=float(params["temperature"]) if "temperature" in params else None,
                max_tokens=params.get("max_tokens"),
            ),
            tools=tuple(t.strip() for t in need(table, "tools", f"intents.{name}.tools")),
        )
    return RouterPolicy(
        intents=built,
        confidence_threshold=float(need(router, "confidence_threshold", "router.confidence_threshold")),
        fallback_intent=need(router, "fallback_intent", "router.fallback_intent"),
        unsure_model=str(router.get("unsure_model", "")).strip(),
        offer_tools=str(router.get("offer_tools", "when_needed")),
    )
