"""No installed tool shows the model an example value it could copy.

A 0.5B model asked "How many ounces are in a kilogram?" called the calculator with the example from its description,
`(17 * 23) + sqrt(144)`, and answered 403. The rule, applied to every registered tool's description and to every
string (and key) in its parameter schema:
- no example marker: "e.g.", "i.e.", "for example", "for instance", "example:";
- no quoted text ("...", '...', `...`, curly quotes): a quoted sample is what gets copied; placeholders are written
  in angle brackets (<expression>);
- no arithmetic: two numbers joined by an operator (`17 * 23`, `2^10`) or a function applied to a number
  (`sqrt(144)`); plain limits ("5 s CPU", "UTF-8") are allowed;
- no URL and no sample path or file name (`https://...`, `~/notes/`, `C:\\`, `plan.txt`, `*.py`); a bare file type
  (".pdf files") is allowed;
- no `example`/`examples` keys in a schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from edgemind.core.settings import Settings
from edgemind.core.tools.registry import ToolRegistry
from edgemind.core.tools.session import plugin_context

_EXTENSIONS = r"(?:txt|md|rst|py|pdf|csv|json|toml|ya?ml|html?|docx?|xlsx?|log|ini|cfg|sh|js|ts|png|jpe?g|gguf)"
RULES: dict[str, re.Pattern[str]] = {
    "an example marker": re.compile(r"\be\.g\.|\bi\.e\.|\bfor (?:example|instance)\b|\bexamples?\s*:", re.I),
    "quoted text": re.compile(r"\"[^\"]*\"|“[^”]*”|‘[^’]*’|`[^`]*`|(?<!\w)'[^']*'(?!\w)"),
    "an arithmetic expression": re.compile(
        r"[\d)]\s*(?:\*\*|[-+*/×÷^%])\s*[\d(]|\b[a-z_]\w*\(\s*[-+]?\d", re.I),
    "a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://|\bwww\.", re.I),
    "a path or file name": re.compile(
        rf"(?:^|[\s(])(?:~|\.{{1,2}})?/[\w.-]+/|\b[a-z]:\\|[\w*?-]+\.{_EXTENSIONS}\b", re.I),
}


def copyable_examples(text: str) -> list[str]:
    """What in `text` breaks the rule, as "<rule>: <match>" lines (empty: nothing a model could copy)."""
    return [f"{rule}: {m.group(0)!r}" for rule, pattern in RULES.items() for m in pattern.finditer(text)]


def _schema_strings(schema: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key in ("example", "examples"):
                yield f"{where}.{key}", "examples: (a schema example)"
            yield f"{where}.{key}", str(key)
            yield from _schema_strings(value, f"{where}.{key}")
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            yield from _schema_strings(value, f"{where}[{i}]")
    elif isinstance(schema, str):
        yield where, schema


@pytest.mark.parametrize("text", [
    'Evaluate an arithmetic expression exactly (e.g. "(17 * 23) + sqrt(144)"); use it for any arithmetic.',
    "Evaluate an arithmetic expression such as (17 * 23) + sqrt(144).",
    "Evaluate an expression like 2^10.",
    'List a folder\'s entries, optionally filtered by a glob pattern like "*.py".',
    "List a folder's entries, optionally filtered by a glob pattern like *.py.",
    "Read a file such as ~/notes/plan.txt.",
    "Fetch a page from https://example.org and return its text.",
    "Convert units, for example 1 kg to oz.",
    "Search documents for 'quarterly report'.",
])
def test_the_rule_catches_example_values(text: str) -> None:
    assert copyable_examples(text)


@pytest.mark.parametrize("text", [
    "Run a Python 3 program in a sandboxed process (5 s CPU, 512 MB, 10 s wall clock, no network).",
    "Read a text file (UTF-8), up to max_bytes; lines are numbered so answers can cite them.",
    "Index a folder of .md, .txt, .rst, .py and .pdf files.",
    "Fetch a web page (http/https) and return its readable text.",
    "List a folder's entries (name, type, size).",
    "Converts units: write <expression> <unit> to <unit>.",
])
def test_the_rule_lets_plain_descriptions_through(text: str) -> None:
    assert copyable_examples(text) == []


def test_no_registered_tool_shows_an_example_value(settings: Settings) -> None:
    registry = ToolRegistry.from_entry_points(plugin_context(settings))
    assert not registry.problems
    assert {"calculator", "files_list", "docs_search"} <= {t.name for t in registry.all()}
    found = []
    for t in registry.all():
        texts = [("description", t.manifest.description),
                 *_schema_strings(dict(t.manifest.parameters), "parameters")]
        found += [f"{t.name} {where}: {problem}" for where, text in texts for problem in copyable_examples(text)]
    assert found == []
