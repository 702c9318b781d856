"""A small answer-quality set: short factual questions judged by normalized match, and code tasks whose generated
function is run against asserts in the sandboxed code runner.

Core may not import plugins, so the code runs the way the engine runs any tool: the `python_run` tool is found
through the plugin registry (entry points) and called through a ToolRunner whose broker holds a `code.exec` grant
for this bench session only; every call lands in the audit log like any other tool call. Model output is untrusted:
it only ever runs inside that sandbox (separate process, CPU/memory/file/wall-clock limits).
"""

from __future__ import annotations

import json
import re
import string
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from ..engine import AskOptions, Engine, Tools
from ..errors import EdgeMindError
from .report import BenchError, Figure

QUALITY_FILE = "bench_quality.json"
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_CODE_BLOCK = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)(?:```|$)", re.DOTALL)
PASSED = "ALL TESTS PASSED"


@dataclass(slots=True)
class QualityResult:
    figures: dict[str, Figure] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)


def load_quality_set() -> dict[str, Any]:
    try:
        data = json.loads(resources.files("edgemind.resources").joinpath(QUALITY_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BenchError(f"the quality set {QUALITY_FILE} cannot be read: {exc}") from None
    if not isinstance(data.get("qa"), list) or not isinstance(data.get("code"), list):
        raise BenchError(f"the quality set {QUALITY_FILE} needs 'qa' and 'code' lists")
    return data


def normalize_answer(text: str) -> str:
    """SQuAD-style: lower case, no punctuation, no articles, single spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if ch in string.punctuation else ch for ch in text)
    return " ".join(_ARTICLES.sub(" ", text).split())


def judge_answer(answer: str, accepted: list[str]) -> tuple[bool, bool]:
    """(exact: the normalized first line equals an accepted answer, contains: one appears in it as whole words)."""
    first = normalize_answer(answer.strip().splitlines()[0] if answer.strip() else "")
    targets = [normalize_answer(a) for a in accepted]
    exact = first in targets
    contains = any(re.search(rf"(?:^| ){re.escape(t)}(?: |$)", first) for t in targets)
    return exact, contains


def extract_code(answer: str) -> str:
    """The first fenced code block, or the whole answer when the model wrote bare code."""
    match = _CODE_BLOCK.search(answer)
    return (match.group(1) if match else answer).strip()


def sandbox_runner(engine: Engine) -> Callable[[str], tuple[bool, str]]:
    """Run a program through the `python_run` tool with a session-only code.exec grant; (passed, output)."""
    # its own tool session over the engine's data folder: the grant holds for this session only, asks nobody
    tools = Tools.open(engine.settings, grants=["code.exec"])
    if not tools.offered(["python_run"]):
        raise BenchError("the code runner tool (python_run) is not installed; code tasks cannot run")

    def run(program: str) -> tuple[bool, str]:
        outcome = tools.run("python_run", {"code": program})
        return outcome.ok and outcome.content.startswith("exit code: 0") and PASSED in outcome.content, \
            outcome.content[:400]

    return run


def measure_quality(engine: Engine, model_id: str, *, qa_limit: int | None = None, code_limit: int | None = None,
                    progress: Callable[[str], None] = lambda _m: None) -> QualityResult:
    data = load_quality_set()
    qa = data["qa"][:qa_limit] if qa_limit is not None else data["qa"]
    code = data["code"][:code_limit] if code_limit is not None else data["code"]
    result = QualityResult()
    exact = contains = 0
    qa_opts = AskOptions(model=model_id, temperature=0, max_tokens=24, store=False, use_cache=False,
                         system_prompt=data.get("qa_instruction") or None)
    for i, item in enumerate(qa):
        answer = engine.ask(item["q"], qa_opts).text
        e, c = judge_answer(answer, item["a"])
        exact += e
        contains += c
        result.items.append({"kind": "qa", "q": item["q"], "answer": answer[:200], "exact": e, "contains": c})
        progress(f"quality: question {i + 1}/{len(qa)} {'right' if c else 'wrong'}")
    if qa:
        result.figures["qa_exact"] = Figure(exact / len(qa), "fraction", len(qa), "higher",
                                            note="normalized first line equals an accepted answer")
        result.figures["qa_contains"] = Figure(contains / len(qa), "fraction", len(qa), "higher",
                                               note="an accepted answer appears in the first line")
    if code:
        run = sandbox_runner(engine)
        code_opts = AskOptions(model=model_id, temperature=0, max_tokens=256, store=False, use_cache=False)
        passed = 0
        instruction = data.get("code_instruction", "")
        for i, item in enumerate(code):
            answer = engine.ask(f"{item['task']} {instruction}".strip(), code_opts).text
            program = f"{extract_code(answer)}\n\n{item['tests']}\nprint({PASSED!r})\n"
            try:
                ok, output = run(program)
            except EdgeMindError as exc:
                ok, output = False, f"error: {exc}"
            passed += ok
            result.items.append({"kind": "code", "task": item["task"], "answer": answer[:600], "passed": ok,
                                 "output": output})
            progress(f"quality: code task {i + 1}/{len(code)} {'passed' if ok else 'failed'}")
        result.figures["code_pass"] = Figure(passed / len(code), "fraction", len(code), "higher",
                                             note="generated function passes its asserts in the sandbox")
    return result
