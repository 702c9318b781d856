"""Labelled prompts, the examples routing and safety learn from and are measured on: one dataclass, and one reader of
the JSON-lines files that hold them. Which labels a file may use is the caller's `LabelSet`; this module knows none."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from .json_lines import read_objects


@dataclass(frozen=True, slots=True)
class LabelledPrompt:
    prompt: str
    label: str  # the class a classifier learns: an intent (routing), "harmful" or "benign" (safety)
    category: str | None = None  # a finer class where the file has one (safety: what a prompt is, or only sounds like)
    lang: str = ""


@dataclass(frozen=True, slots=True)
class LabelSet:
    """What one kind of labelled file may hold."""

    key: str  # the JSON field that names the label: "intent" in the router's files, "label" in safety's
    labels: tuple[str, ...]
    categories: tuple[str, ...] = ()  # the values "category" may take; empty: the file has no categories
    categorised: tuple[str, ...] = ()  # labels whose examples must name a category
    every_label: bool = False  # a file needs examples of every label (a class never seen cannot be learned)


def read_labelled(path: Path, kinds: LabelSet) -> list[LabelledPrompt]:
    """Lines of {"prompt", <kinds.key>[, "category"][, "lang"]}; a broken line is a ConfigError naming the file and
    line, and a label with no examples (where `every_label`) one naming the file."""
    examples = []
    for number, row in read_objects(path, ConfigError):
        if not isinstance(row.get("prompt"), str) or not row["prompt"].strip():
            raise ConfigError(f"{path}:{number}: expected a non-empty \"prompt\" string")
        label = row.get(kinds.key)
        if label not in kinds.labels:
            raise ConfigError(f"{path}:{number}: {kinds.key} {label!r} is not one of {', '.join(kinds.labels)}")
        category = row.get("category") if kinds.categories else None
        if category is not None and category not in kinds.categories or category is None and label in kinds.categorised:
            raise ConfigError(f"{path}:{number}: category {category!r} is not one of {', '.join(kinds.categories)}")
        examples.append(LabelledPrompt(row["prompt"], label, category, str(row.get("lang", ""))))
    if kinds.every_label:
        missing = set(kinds.labels) - {e.label for e in examples}
        if missing:
            raise ConfigError(f"{path}: every {kinds.key} needs examples; none for {', '.join(sorted(missing))}")
    return examples
