"""The safety policy: categories, actions, messages, help resources and thresholds, read from the shipped
`resources/safety_policy.toml` with the data folder's `safety_policy.toml` merged over it.

A mistake in either file is a ConfigError naming the file, the key and, where it can be found, the line. This module
never decides anything about a prompt; `checker.py` does, with these numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..classify.policy_file import PolicySource, config_error, is_number, read_policy, require, resource_path
from ..errors import ConfigError

POLICY_FILE = "safety_policy.toml"
WHAT = "safety policy"
CATEGORIES = ("violence_weapons", "self_harm", "sexual_minors", "malware_intrusion", "fraud", "hate",
              "privacy_doxxing", "dangerous_chemistry_biology")
ACTIONS = ("refuse", "support")

_TOP_KEYS = {"level", "levels", "output", "benign_frame", "messages", "help_resources", "categories"}
_CATEGORY_KEYS = {"description": str, "action": str, "message": str, "threshold_shift": float}
_RESOURCE_KEYS = ("name", "region", "contact")


@dataclass(frozen=True, slots=True)
class CategoryPolicy:
    name: str
    description: str
    action: str  # "refuse" | "support"
    message: str  # "" means the policy's default message for the action
    threshold_shift: float = 0.0


@dataclass(frozen=True, slots=True)
class HelpResource:
    name: str
    region: str
    contact: str

    def line(self) -> str:
        return f"{self.name} ({self.region}): {self.contact}"


@dataclass(frozen=True, slots=True)
class SafetyPolicy:
    level: str
    levels: tuple[tuple[str, float], ...]
    output_shift: float
    refusal: str
    support: str
    help_resources: tuple[HelpResource, ...]
    categories: tuple[CategoryPolicy, ...]
    benign_frame_shift: float = 0.0  # added to an input's threshold when rules.benign_frame(text) holds

    def category(self, name: str) -> CategoryPolicy:
        return next(c for c in self.categories if c.name == name)

    @property
    def base_threshold(self) -> float:
        return dict(self.levels)[self.level]

    def threshold(self, category: str, *, output: bool = False, benign_frame: bool = False) -> float:
        """Probability of harm at or above which a text in this category is refused; an input framed as benign
        (rules.benign_frame) gets the benign-frame shift, an answer never does."""
        value = self.base_threshold + self.category(category).threshold_shift + (self.output_shift if output else 0)
        value += self.benign_frame_shift if benign_frame and not output else 0
        return min(max(value, 0.01), 0.99)

    def message(self, category: str) -> str:
        """What the user sees instead of an answer: the category's message, or the action's default, and for a
        "support" category always the help resources."""
        policy = self.category(category)
        if policy.action == "support":
            lines = [policy.message or self.support, ""]
            lines += [f"- {r.line()}" for r in self.help_resources]
            return "\n".join(lines)
        return policy.message or self.refusal

    def with_level(self, level: str) -> SafetyPolicy:
        if level not in dict(self.levels):
            raise ConfigError(f"safety level {level!r} is not one of {', '.join(name for name, _ in self.levels)}")
        return replace(self, level=level)

    def fingerprint(self) -> str:
        """What training depends on (the category names), not thresholds or wording: changing those never retrains."""
        return ",".join(c.name for c in self.categories)


def default_policy_path() -> Path:
    return resource_path(POLICY_FILE)


def load_policy(override: Path | None = None, *, base: Path | None = None) -> SafetyPolicy:
    """The shipped policy (or `base`) with `override` merged over it when that file exists."""
    policy = read_policy(base or default_policy_path(), override, WHAT, _check)
    merged = policy.data
    levels = merged.get("levels", {})
    if merged.get("level") not in levels:
        raise config_error(policy.source_of("level"), "level",
                           f"{merged.get('level')!r} is not one of {', '.join(levels)}")
    return _build(merged)


# ---- checking -------------------------------------------------------------------------------------------------------
def _check(data: Mapping[str, Any], src: PolicySource) -> None:
    """Check every key present in one file (either file may leave keys out; _build checks completeness)."""
    for key in data:
        if key not in _TOP_KEYS:
            raise config_error(src, key, f"unknown key; known: {', '.join(sorted(_TOP_KEYS))}")
    if "level" in data and not isinstance(data["level"], str):
        raise config_error(src, "level", "must be the name of a level, e.g. \"standard\"")
    for table in ("levels", "output", "benign_frame", "messages", "categories"):
        if table in data and not isinstance(data[table], dict):
            raise config_error(src, table, "must be a table")
    for name, value in data.get("levels", {}).items():
        if not is_number(value) or not 0 < value < 1:
            raise config_error(src, f"levels.{name}", f"{value!r} is not a threshold between 0 and 1")
    for key, value in data.get("output", {}).items():
        if key != "threshold_shift":
            raise config_error(src, f"output.{key}", "unknown key; known: threshold_shift")
        if not is_number(value) or not -0.5 <= value <= 0.5:
            raise config_error(src, "output.threshold_shift", f"{value!r} is not a number from -0.5 to 0.5")
    for key, value in data.get("benign_frame", {}).items():
        if key != "threshold_shift":
            raise config_error(src, f"benign_frame.{key}", "unknown key; known: threshold_shift")
        if not is_number(value) or not 0 <= value <= 0.5:
            raise config_error(src, "benign_frame.threshold_shift", f"{value!r} is not a number from 0 to 0.5")
    for key, value in data.get("messages", {}).items():
        if key not in ("refusal", "support"):
            raise config_error(src, f"messages.{key}", "unknown key; known: refusal, support")
        if not isinstance(value, str) or not value.strip():
            raise config_error(src, f"messages.{key}", "must be a non-empty string")
    resources_ = data.get("help_resources", [])
    if not isinstance(resources_, list) or not resources_ and "help_resources" in data:
        raise config_error(src, "help_resources", "must be a non-empty array of tables [[help_resources]]")
    for i, entry in enumerate(resources_):
        if not isinstance(entry, dict) or set(entry) != set(_RESOURCE_KEYS) or not all(
                isinstance(entry[k], str) and entry[k].strip() for k in _RESOURCE_KEYS):
            raise config_error(src, "help_resources.name",
                               f"entry {i + 1} needs exactly {', '.join(_RESOURCE_KEYS)} as text")
    for name, table in data.get("categories", {}).items():
        if name not in CATEGORIES:
            raise config_error(src, f"categories.{name}", f"unknown category; known: {', '.join(CATEGORIES)}")
        if not isinstance(table, dict):
            raise config_error(src, f"categories.{name}", "must be a table")
        for key, value in table.items():
            where = f"categories.{name}.{key}"
            if key not in _CATEGORY_KEYS:
                raise config_error(src, where, f"unknown key; known: {', '.join(_CATEGORY_KEYS)}")
            if _CATEGORY_KEYS[key] is float:
                if not is_number(value) or not -0.5 <= value <= 0.5:
                    raise config_error(src, where, f"{value!r} is not a number from -0.5 to 0.5")
            elif not isinstance(value, str):
                raise config_error(src, where, "must be a string")
            if key == "action" and value not in ACTIONS:
                raise config_error(src, where, f"{value!r} is not one of {', '.join(ACTIONS)}")


def _build(data: Mapping[str, Any]) -> SafetyPolicy:
    def need(key: str, table: Mapping[str, Any], where: str) -> Any:
        return require(table, key, WHAT, where)

    levels = tuple((name, float(value)) for name, value in need("levels", data, "[levels]").items())
    level = need("level", data, "level")
    if level not in dict(levels):
        raise ConfigError(f"safety policy: level = {level!r} is not one of {', '.join(n for n, _ in levels)}")
    messages = need("messages", data, "[messages]")
    categories = []
    for name in CATEGORIES:
        table = need(name, need("categories", data, "[categories]"), f"[categories.{name}]")
        categories.append(CategoryPolicy(
            name=name, description=need("description", table, f"categories.{name}.description"),
            action=need("action", table, f"categories.{name}.action"), message=table.get("message", ""),
            threshold_shift=float(table.get("threshold_shift", 0.0)),
        ))
    return SafetyPolicy(
        level=level, levels=levels, output_shift=float(data.get("output", {}).get("threshold_shift", 0.0)),
        refusal=need("refusal", messages, "messages.refusal"), support=need("support", messages, "messages.support"),
        help_resources=tuple(HelpResource(**entry) for entry in need("help_resources", data, "[[help_resources]]")),
        categories=tuple(categories),
        benign_frame_shift=float(data.get("benign_frame", {}).get("threshold_shift", 0.0)),
    )
