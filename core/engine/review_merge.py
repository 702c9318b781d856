"""One list of findings from analyzers and the model: no filler, no duplicates, no contradictions on one line.

An analyzer finding is a fact (a parser saw it); a model finding is untrusted text. So analyzer findings always go
in, and a model finding is dropped when it is filler ("consider adding comments", "looks good"), when it denies a
problem ("eval is safe here": a review lists problems, so a denial is either filler or a contradiction), when it
praises the code as it is ("..., which is a common practice"), when it names no defect at its line
(review_grounding: a walk through the file pinned to `def` lines, a docstring added, a "fix" that is the code already
there), or when a finding on the same line already stands (an analyzer's, or the model's own), or one on the next
line says the same thing (small models miscount by one).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from .review_findings import SEVERITIES, Finding
from .review_grounding import Grounding

_FILLER = re.compile(
    r"consider (adding|using|writing) (more )?(comments?|docstrings?|type hints?|documentation|logging|tests?)|"
    r"\badd(ing)? (more )?(comments?|docstrings?|type (hints?|annotations?)|documentation)|"
    r"\blooks? (good|fine|correct|clean)|\bwell[- ]written|\breadab(le|ility)|\bnaming conventions?|\bpep ?8|"
    r"\bcode style|\bmore descriptive|\bmeaningful (variable )?names?|\bbest practices?\b|\bno (bugs?|issues?|"
    r"problems?|errors?)\b", re.I)
_DENIAL = re.compile(
    r"\b(is|are|looks|seems|appears)( to be)? (perfectly |completely )?(safe|fine|correct|ok|okay|secure|harmless)\b|"
    r"\bnot (a |an )?(bug|problem|issue|vulnerability|security risk)|\bnothing (is )?wrong\b|\bno need to\b|"
    r"\bthere is no (bug|problem|issue|error)", re.I)
# Words that make a message a problem report even when it also says something "is safe" ("use literal_eval, which is
# safe"): such a message is a finding, not a denial.
_PROBLEM = re.compile(r"unsafe|insecure|vulnerab|danger|risk|inject|crash|exception|wrong|incorrect|\bfails?\b|leak|"
                      r"should|off[- ]by[- ]one|out of (range|bounds)|never|missing|undefined|mutable|shared", re.I)
# Praise of the code as it is ("..., which is a common practice"), in a message that proposes nothing: no finding.
_PRAISE = re.compile(r"\b(which|this|that|it) is (a |the )?(common|good|standard|recommended|best|safe) "
                     r"(practice|way|approach|pattern)\b", re.I)
_PROPOSES = re.compile(r"\b(should|instead|replace|change (it|this|that|to)|use|must|need)\b", re.I)
_WORD = re.compile(r"[a-z][a-z-]{2,}")
_STOP = frozenset("""the and this that with for are was will can could should would not but use used using when
which what from into than then there their they them its it's has have had does did done may might must line lines
code value values variable variables function functions call calls called return returns returned here also just
only more most some any all each every other one two instead make makes made like get gets set sets new way ways
because since while where your you our out about over under same fix fixed fixes bug bugs issue issues problem
problems error errors""".split())


def is_filler(message: str) -> bool:
    return bool(_FILLER.search(message))


def denies_a_problem(message: str) -> bool:
    return bool(_DENIAL.search(message)) and not _PROBLEM.search(message)


def praises_the_code(message: str) -> bool:
    return bool(_PRAISE.search(message)) and not _PROPOSES.search(message)


def _stem(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 4 else word


def _topic(finding: Finding, line_text: str) -> set[str]:
    """The words that carry a finding's meaning: not stop words, not the names on the line itself (two findings on
    `total = items[i]` both name `items` whatever they say)."""
    names = {w.lower() for w in re.findall(r"[A-Za-z_]\w*", line_text)}
    words = _WORD.findall(f"{finding.message} {finding.suggestion}".lower())
    return {_stem(w) for w in words if w not in _STOP and w not in names}


class FindingMerger:
    """Accepts findings one at a time (analyzers first, then the model as it is parsed), keeping what is new."""

    def __init__(self, source: dict[int, str]) -> None:
        self.source = source
        self.grounding = Grounding(source)
        self._accepted: list[Finding] = []

    @property
    def findings(self) -> list[Finding]:
        return sorted(self._accepted, key=lambda f: (f.line, SEVERITIES.index(f.severity)))

    def _same_meaning(self, new: Finding, old: Finding) -> bool:
        if abs(new.line - old.line) > (1 if old.from_analyzer != new.from_analyzer else 0):
            return False
        if new.source == old.source and new.message.lower() == old.message.lower():
            return True
        if old.from_analyzer and not new.from_analyzer and new.line == old.line:
            return True  # the analyzer's fact stands for its line; the model's words on it add a duplicate at best
        if not new.from_analyzer and not old.from_analyzer:
            return new.line == old.line  # one model claim per line: a second is a rewording or a contradiction
        line_text = self.source.get(new.line, "") + " " + self.source.get(old.line, "")
        return bool(_topic(new, line_text) & _topic(old, line_text))

    def _repeats_a_fact(self, new: Finding) -> bool:
        """A model claim that restates an analyzer's message (most of its words), wherever the model anchored it:
        told the facts, a small model often echoes them back on some other line."""
        said = _topic(replace(new, suggestion=""), "")
        for old in self._accepted:
            fact = _topic(replace(old, suggestion=""), "") if old.from_analyzer else set()
            if len(fact) >= 3 and len(fact & said) >= 2 * len(fact) / 3:
                return True
        return False

    def add(self, finding: Finding) -> bool:
        """Keep the finding if it is new; True when kept."""
        if not finding.from_analyzer:
            text = f"{finding.message} {finding.suggestion}"
            if (is_filler(text) or denies_a_problem(finding.message) or praises_the_code(finding.message)
                    or self.grounding.ungrounded(finding)
                    or self.grounding.restates(finding)):
                return False
            if any(self._same_meaning(finding, old) for old in self._accepted) or self._repeats_a_fact(finding):
                return False
        elif any(old.source == finding.source and old.line == finding.line and old.message == finding.message
                 for old in self._accepted):
            return False
        self._accepted.append(finding)
        return True

    def add_all(self, findings: Iterable[Finding]) -> list[Finding]:
        """The findings that were kept, in the order given."""
        return [f for f in findings if self.add(f)]
