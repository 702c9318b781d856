"""Code review: real analyzers first (review_analyzers: ruff's bug rules and our AST checks, for Python), then the
code model, told the analyzers' findings as facts, adds what they cannot see. Findings {line, severity, message,
suggestion, source} stream out as they are found: the analyzers' at once, the model's as its answer is parsed.

Headless: `edgemind review FILE` and the desktop app's review pane share it. Model output is untrusted text, so the
findings are parsed leniently (JSON lines, a JSON array, or "Line N: …" prose), validated, their lines clamped to
the lines that were reviewed, and merged (review_merge) so they never repeat or contradict each other. Never imports
Qt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..backends.base import CancelToken
from ..errors import PromptError, error_for_kind
from .request import AskOptions
from .review_analyzers import AnalyzerReport, analyze
from .review_findings import SEVERITIES, Finding
from .review_merge import FindingMerger

if TYPE_CHECKING:
    from .facade import Engine

# A 0.5B model keeps about this many lines in view reliably; longer files are reviewed in chunks.
CHUNK_LINES = 150
MAX_LINES = 3000
MAX_MESSAGE_CHARS = 600

REVIEW_SYSTEM_PROMPT = "You are a meticulous code reviewer."

# Measured on the bundled 0.5B coder: asked for JSON with line numbers, it miscounts lines or answers NO_FINDINGS for
# code with an off-by-one bug; asked to quote the buggy lines and write the corrected code, it finds the bug. So the
# prompt asks for that, and line numbers come from where the quoted and corrected lines are in the source, never from
# the model's counting. JSON findings are still understood (a bigger model may answer with them).
_PROMPT = """Find the bugs in this code{where}. {facts}For each bug, quote the buggy line in backticks and explain \
the fix. Then give the corrected code.

```{lang}
{code}
```"""
_LANGS = {".py": "python", ".js": "javascript", ".ts": "typescript", ".java": "java", ".c": "c", ".h": "c",
          ".cpp": "cpp", ".cc": "cpp", ".rs": "rust", ".go": "go", ".rb": "ruby", ".php": "php", ".cs": "csharp",
          ".sh": "bash", ".sql": "sql", ".kt": "kotlin", ".swift": "swift", ".diff": "diff", ".patch": "diff"}
_ERROR_WORDS = re.compile(r"out of range|index ?error|crash|exception|injection|overflow|null|none ?type|undefined|"
                          r"division by zero|zero ?division|infinite loop|leak|race|deadlock|security|unsafe|"
                          r"off-by-one|off by one|never (closed|returns)", re.I)


# The analyzers' findings, told to the model as facts (with the line's text: the model cannot count lines).
_FACTS = """Static analyzers already found these problems (they are certain; do not repeat them):
{items}
Look for other bugs they cannot see, such as logic errors and wrong results. """
MAX_FACTS = 12

__all__ = ["SEVERITIES", "Finding", "ReviewResult", "build_prompt", "parse_findings", "review_code"]


@dataclass(frozen=True, slots=True)
class ReviewResult:
    findings: tuple[Finding, ...]
    model: str
    lines: int
    chunks: int
    cancelled: bool = False
    raw: str = ""  # the model's own words, for a user who wants to see why a finding was (not) parsed
    analyzers: tuple[str, ...] = ()  # which analyzers ran ("ruff 0.17.5", "edgemind:ast")
    notes: tuple[str, ...] = ()  # one line each: an analyzer that could not run, a language with none

    def as_dict(self) -> dict[str, Any]:
        return {"findings": [f.as_dict() for f in self.findings], "model": self.model, "lines": self.lines,
                "chunks": self.chunks, "cancelled": self.cancelled, "analyzers": list(self.analyzers),
                "notes": list(self.notes)}


def build_prompt(lines: list[str], path: str | None = None, facts: Iterable[Finding] = (), first_line: int = 1) -> str:
    """The model's prompt for lines first_line.. of the file, with the analyzers' findings on them as facts."""
    where = f" from {path}" if path else ""
    lang = _LANGS.get("." + path.rsplit(".", 1)[-1].lower(), "") if path and "." in path else ""
    items = [f"- `{lines[f.line - first_line].strip()}`: {f.message}" for f in facts
             if 0 <= f.line - first_line < len(lines) and lines[f.line - first_line].strip()][:MAX_FACTS]
    told = _FACTS.format(items="\n".join(items)) if items else ""
    return _PROMPT.format(where=where, facts=told, lang=lang, code="\n".join(lines))


# ---- parsing untrusted model output ----------------------------------------------------------------------------
_FENCE = re.compile(r"^\s*```[\w+-]*\s*$", re.M)
_SEVERITY_WORDS = {
    "error": "error", "critical": "error", "high": "error", "bug": "error", "fatal": "error", "severe": "error",
    "blocker": "error", "major": "error",
    "warning": "warning", "warn": "warning", "medium": "warning", "moderate": "warning", "risk": "warning",
    "info": "info", "information": "info", "low": "info", "minor": "info", "style": "info", "note": "info",
    "nit": "info", "suggestion": "info", "hint": "info",
}
_LINE_KEYS = ("line", "line_number", "lineno", "line_no", "lineNumber", "ln", "lines", "location")
_MESSAGE_KEYS = ("message", "issue", "problem", "description", "msg", "error", "finding", "text", "comment")
_SUGGESTION_KEYS = ("suggestion", "fix", "recommendation", "solution", "suggested_fix", "correction")
_PROSE_LINE = re.compile(
    r"^\s*(?:[-*•]|\d+[.)])?\s*\**\s*(?:on\s+)?lines?\s*(\d+)(?:\s*[-–]\s*\d+)?\**\s*"
    r"(?:\(\s*(\w+)\s*\))?\s*[:.\-–—]\s*(.+)$", re.I)
_BACKTICKS = re.compile(r"`([^`\n]{3,120})`")


def _first_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (list, tuple)) and value:
        return _first_int(value[0])
    if isinstance(value, str):
        m = re.search(r"\d+", value)
        return int(m.group()) if m else None
    return None


def _pick(obj: dict[str, Any], keys: Iterable[str]) -> Any:
    lowered = {str(k).lower(): v for k, v in obj.items()}
    for key in keys:
        if key.lower() in lowered:
            return lowered[key.lower()]
    return None


def _severity(value: Any, message: str) -> str:
    word = str(value or "").strip().lower()
    if word in _SEVERITY_WORDS:
        return _SEVERITY_WORDS[word]
    for token in re.findall(r"[a-z]+", word):
        if token in _SEVERITY_WORDS:
            return _SEVERITY_WORDS[token]
    return "warning" if message else "info"


def _clean_text(value: Any, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)
    text = " ".join(value.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_candidates(text: str) -> list[dict[str, Any]]:
    """Every JSON object in the text, whether alone, in a list, under a "findings" key, or among prose."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    i = 0
    while i < len(text):
        start = min((p for p in (text.find("{", i), text.find("[", i)) if p >= 0), default=-1)
        if start < 0:
            break
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            salvaged = _salvage_object(text, start) if text[start] == "{" else None
            if salvaged is not None:
                found.append(salvaged[0])
                i = salvaged[1]
            else:
                i = start + 1
            continue
        found.extend(_flatten(value))
        i = end
    return found


def _flatten(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        inner = _pick(value, ("findings", "issues", "problems", "results"))
        if isinstance(inner, list):
            return [v for item in inner for v in _flatten(item)]
        return [value]
    if isinstance(value, list):
        return [v for item in value for v in _flatten(item)]
    return []


def _salvage_object(text: str, start: int) -> tuple[dict[str, Any], int] | None:
    """A broken object (single quotes, trailing comma, unescaped quote, cut off): pull out its fields by pattern."""
    end = text.find("}", start)
    chunk = text[start: end + 1 if end >= 0 else len(text)]
    if "\n\n" in chunk:
        chunk = chunk[: chunk.index("\n\n")]
    obj: dict[str, Any] = {}
    for key, value in re.findall(r"""["']?(\w+)["']?\s*:\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[-\w.]+)""", chunk):
        if value[:1] in "\"'":
            value = value[1:-1].replace('\\"', '"').replace("\\'", "'")
        obj[key] = value
    if _pick(obj, _LINE_KEYS) is None or _pick(obj, _MESSAGE_KEYS) is None:
        return None
    return obj, start + len(chunk)


def _prose_candidates(text: str) -> list[dict[str, Any]]:
    out = []
    for raw in text.splitlines():
        m = _PROSE_LINE.match(raw)
        if m:
            message, _, suggestion = m.group(3).partition(" Suggestion:")
            out.append({"line": m.group(1), "severity": m.group(2) or "", "message": message,
                        "suggestion": suggestion})
    return out


def _snap_to_quoted_code(line: int, message: str, suggestion: str, source: dict[int, str]) -> int:
    """Small models miscount lines; when the message quotes code that sits on a nearby line instead, move there."""
    for snippet in _BACKTICKS.findall(message) + _BACKTICKS.findall(suggestion):
        snippet = snippet.strip()
        if not snippet or snippet in source.get(line, ""):
            return line
        near = [n for n in range(line - 5, line + 6) if snippet in source.get(n, "")]
        if near:
            return min(near, key=lambda n: abs(n - line))
    return line


_CODE_BLOCK = re.compile(r"```[\w+-]*[ \t]*\n(.*?)(?:```|\Z)", re.S)
_IDENT = re.compile(r"[A-Za-z_]\w{2,}")


def _norm(line: str) -> str:
    return " ".join(line.split())


def _explanations(text: str) -> list[str]:
    """The answer's prose, split into items (list entries or paragraphs), code blocks removed."""
    prose = _CODE_BLOCK.sub("\n\n", text)
    items = re.split(r"\n\s*\n|\n(?=\s*(?:\d+[.)]|[-*•])\s)", prose)
    return [" ".join(i.split()) for i in items if len(i.split()) >= 3]


def _best_explanation(code_lines: list[str], explanations: list[str]) -> str:
    words = {w for line in code_lines for w in _IDENT.findall(line)}
    scored = [(len(words & set(_IDENT.findall(e))), -i, e) for i, e in enumerate(explanations)]
    best = max(scored, default=(0, 0, ""))
    return best[2] if best[0] else ""


def _free_form_candidates(text: str, source: dict[int, str]) -> list[dict[str, Any]]:
    """Findings from a prose review: quoted source lines where the text says they are, and the lines its corrected
    code changes. Line numbers come from matching the source text, so a model that cannot count still lands right."""
    by_text: dict[str, int] = {}
    for n, line in sorted(source.items()):
        key = _norm(line)
        if len(key) >= 4:
            by_text.setdefault(key, n)
    explanations = _explanations(text)
    out: list[dict[str, Any]] = []
    for item in explanations:
        for quoted in _BACKTICKS.findall(item):
            at = by_text.get(_norm(quoted))
            if at is None:
                hits = [n for k, n in by_text.items() if len(_norm(quoted)) >= 8 and _norm(quoted) in k]
                at = hits[0] if len(hits) == 1 else None
            if at is not None:
                out.append({"line": at, "message": item})
                break
    blocks = [b for b in _CODE_BLOCK.findall(text) if b.strip()]
    if blocks:
        out.extend(_diff_candidates(source, max(blocks, key=len), explanations))
    return out


def _diff_candidates(source: dict[int, str], corrected: str, explanations: list[str]) -> list[dict[str, Any]]:
    import difflib

    numbers = sorted(source)
    old = [_norm(source[n]) for n in numbers]
    new_raw = corrected.splitlines()
    new = [_norm(line) for line in new_raw]
    out: list[dict[str, Any]] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    kept = sum(size for _, _, size in matcher.get_matching_blocks())
    if kept < 0.5 * len(old):  # not a corrected copy of this code (an example, a rewrite): nothing to anchor to
        return out
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        # A deletion is usually code the model left out of its copy, not a fix; large replacements are rewrites.
        if op == "replace" and i2 - i1 <= 4 and j2 - j1 <= 8:
            before, after = [source[numbers[i]] for i in range(i1, i2)], new_raw[j1:j2]
            if [x for x in old[i1:i2] if x] == [x for x in new[j1:j2] if x]:
                continue
            message = _best_explanation(before, explanations) or "The corrected code changes this line."
            out.append({"line": numbers[i1], "message": message,
                        "suggestion": "change to: " + " / ".join(a.strip() for a in after if a.strip())})
        elif op == "insert" and j2 - j1 <= 6 and any(new[j1:j2]):
            anchor = numbers[min(i1, len(numbers) - 1)]
            added = [a.strip() for a in new_raw[j1:j2] if a.strip()]
            message = _best_explanation(added, explanations) or "The corrected code adds a line here."
            out.append({"line": anchor, "message": message, "suggestion": "add before this line: " + " / ".join(added)})
    return out


def parse_findings(text: str, first_line: int, last_line: int,
                   source: dict[int, str] | None = None) -> list[Finding]:
    """Findings from a model's answer, for lines first_line..last_line. Never raises on odd output."""
    if last_line < first_line:
        return []
    source = source or {}
    body = _FENCE.sub("", text or "")
    candidates = _json_candidates(body) or _prose_candidates(body)
    if not candidates and source:
        candidates = _free_form_candidates(text or "", {n: source[n] for n in range(first_line, last_line + 1)
                                                       if n in source})
    findings: list[Finding] = []
    seen: set[tuple[int, str]] = set()
    for obj in candidates:
        message = _clean_text(_pick(obj, _MESSAGE_KEYS), MAX_MESSAGE_CHARS)
        line = _first_int(_pick(obj, _LINE_KEYS))
        if not message or line is None:
            continue
        suggestion = _clean_text(_pick(obj, _SUGGESTION_KEYS), MAX_MESSAGE_CHARS)
        line = min(max(line, first_line), last_line)
        if source:
            line = _snap_to_quoted_code(line, message, suggestion, source)
        key = (line, message.lower())
        if key in seen:
            continue
        seen.add(key)
        severity = _pick(obj, ("severity", "level", "type", "priority"))
        if severity is None:
            severity = "error" if _ERROR_WORDS.search(message + " " + suggestion) else "warning"
        findings.append(Finding(line, _severity(severity, message), message, suggestion))
    return sorted(findings, key=lambda f: (f.line, SEVERITIES.index(f.severity)))


# ---- running a review ------------------------------------------------------------------------------------------
_FENCE_LINE = re.compile(r"^\s*```", re.M)


def _settled(answer: str) -> str:
    """The part of a streaming answer that will not change its parse: up to the last blank line outside a code block
    (a paragraph that is still being written, or a half-written corrected copy, could move a finding)."""
    cut = answer.rfind("\n\n")
    while cut > 0 and len(_FENCE_LINE.findall(answer[:cut])) % 2:
        cut = answer.rfind("\n\n", 0, cut)
    return answer[:cut] if cut > 0 else ""


def _ask_model(engine: Engine, prompt: str, options: AskOptions, cancel: CancelToken,
               on_token: Callable[[str], None] | None, on_settled: Callable[[str], None]) -> str:
    pieces: list[str] = []
    settled = 0
    for event in engine.stream(prompt, options, cancel):
        if event.type == "token":
            pieces.append(event.text)
            if on_token:
                on_token(event.text)
            if "\n" in event.text:
                text = _settled("".join(pieces))
                if len(text) > settled:
                    settled = len(text)
                    on_settled(text)
        elif event.type == "error":
            raise error_for_kind(event.kind, event.message)
    return "".join(pieces)


def review_code(engine: Engine, code: str, *, path: str | None = None, model: str | None = None,
                cancel: CancelToken | None = None, on_token: Callable[[str], None] | None = None,
                on_finding: Callable[[Finding], None] | None = None,
                on_analyzers: Callable[[AnalyzerReport], None] | None = None,
                analyzers: Callable[[str, str | None], AnalyzerReport] | None = analyze, use_model: bool = True,
                chunk_lines: int = CHUNK_LINES, max_tokens: int = 640) -> ReviewResult:
    """Review `code`: the analyzers, then the code model (by default the configured default model); raise
    EdgeMindError on failure. Each kept finding reaches on_finding as soon as it is known (analyzers' before the model
    starts); `analyzers=None` is the model alone, `use_model=False` the analyzers alone."""
    if "\x00" in code:
        raise PromptError("this looks like a binary file; review needs text")
    lines = code.splitlines()
    if not any(line.strip() for line in lines):
        raise PromptError("there is no code to review")
    if len(lines) > MAX_LINES:
        raise PromptError(f"the code has {len(lines):,} lines; review takes at most {MAX_LINES:,} at a time")
    cancel = cancel or CancelToken()
    model_id = engine.registry.get(model).id if use_model else ""
    source = dict(enumerate(lines, start=1))
    report = analyzers(code, path) if analyzers is not None else AnalyzerReport()
    if on_analyzers:
        on_analyzers(report)
    merger = FindingMerger(source)

    def keep(found: Iterable[Finding]) -> None:
        for f in merger.add_all(found):
            if on_finding:
                on_finding(f)

    keep(report.findings)
    raw: list[str] = []
    chunks = 0
    options = AskOptions(model=model_id, temperature=0.0, max_tokens=max_tokens, system_prompt=REVIEW_SYSTEM_PROMPT,
                         store=False, app_task=True)
    for first in range(1, len(lines) + 1, chunk_lines) if use_model else ():
        if cancel.cancelled:
            break
        part = lines[first - 1: first - 1 + chunk_lines]
        last = first + len(part) - 1
        if not any(line.strip() for line in part):
            continue
        chunks += 1
        facts = [f for f in report.findings if first <= f.line <= last]
        prompt = build_prompt(part, path, facts, first)

        def parse(text: str, a: int = first, b: int = last) -> None:
            keep(parse_findings(text, a, b, source))

        answer = _ask_model(engine, prompt, options, cancel, on_token, parse)
        raw.append(answer)
        parse(answer)
    return ReviewResult(tuple(merger.findings), model_id, len(lines), chunks, cancelled=cancel.cancelled,
                        raw="\n".join(raw), analyzers=report.ran, notes=report.notes)
