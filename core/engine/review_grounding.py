"""Whether a model finding is grounded in the line it points at: the merge drops claims that name no defect there.

Measured on the planted-bug sets (issue 18): most of the 0.5B model's false findings were not wrong claims about a
line but no claim at all, anchored to some line by the parser: a walk through the file ("2. **midpoint function**:
The function should return the midpoint") pinned to each `def` line, a corrected copy that only adds a docstring, or
a paragraph about one function pinned to a line of another. Each shape is told apart here from the code itself, for
any file and any wording:

- on a `def`/`class` header, a claim without a concrete change of that header that quotes none of its parameters
  and speaks of no default, argument or signature: whatever it says is about the body, which the header is not (a
  real signature bug, `acc=[]`, names it);
- a claim that names functions defined in the file (`foo`, **foo**, "foo function") points into none of them and at
  no line that uses them;
- a change whose added lines are only documentation (a docstring, a comment, `pass`) fixes nothing;
- a claim that only restates the code (session 35, from held-out set 3 and the first set's model-alone answers): a
  "fix" that is the code already there ("the line `A` should be `A`", "`if not x:` should be `if not x: return 0`"
  where the return follows, "`try:` should be `except ValueError:`" two lines below), or a claim that quotes code
  and adds no word of its own ("The buggy line is `return total`.").

Non-Python code (or code that does not parse) gets only the documentation and restatement tests.
"""

from __future__ import annotations

import ast
import re

from .review_findings import Finding

_DOC_LINE = re.compile(r"""^(?:#|//|/\*|\*|pass$|\.\.\.$|[rRbBuU]?("{3}|'{3}|"|').*\1$)""")
_NAME = re.compile(r"[A-Za-z_]\w*")
_QUOTED = re.compile(r"`([^`]+)`")
_SIGNATURE = re.compile(r"\b(default|parameter|argument|signature|decorator|base class|inherit)", re.I)
_CHANGE = re.compile(r"^(add before this line|change to): ", re.I)
# How a prose paragraph names the function it is about: `name`, **name**, "name function/method".
_NAMED = (r"`{name}(?:\(\))?`|\*\*`?{name}`?(?:\(\))?(?: (?:function|method))?\*\*|"
          r"\b{name}(?:\(\))? (?:function|method)\b")
# How a claim proposes code: "should be `B`", "replace `A` with `B`", "change it to `B`".
_PROPOSAL = re.compile(r"(?:should (?:be|read)|replace[sd]?\b[^`]*(?:`[^`]*`[^`]*)?\bwith|"
                       r"change[sd]?\b[^`]*(?:`[^`]*`[^`]*)?\bto)\s*:?\s*`([^`]+)`", re.I)
# "`A` should be `B`", "replace `A` with `B`": the code a proposal would replace, to tell "`A` should be `A`".
_PAIR = re.compile(r"`([^`]+)`[^`.]{0,40}?\b(?:should (?:be|read)|with|to)\s*:?\s*`([^`]+)`", re.I)
# Words that frame a quote without saying anything of it ("The buggy line is `x`.").
_FRAMING = frozenset("""the a an this that these line lines buggy bug code is are should be in of it its here fix
fixed correct corrected syntax function method statement block""".split())
# How many lines either side of a finding a proposal may already stand on and still be the code as it is.
_NEAR = 2


def _norm(text: str) -> str:
    return " ".join(text.split())


def only_documentation(lines: list[str]) -> bool:
    """Whether code lines add nothing but documentation: docstrings, comments, `pass` or blank lines."""
    return all(not line.strip() or _DOC_LINE.match(line.strip()) for line in lines)


class Grounding:
    """The file's function spans and headers, to judge model findings against (built once per review)."""

    def __init__(self, source: dict[int, str]) -> None:
        self.source = source
        self.headers: dict[int, set[str]] = {}  # header line -> the names on it a claim about it would use
        self.spans: dict[str, list[tuple[int, int]]] = {}  # function name -> (first, last) lines of each definition
        try:
            tree = ast.parse("\n".join(source.get(n, "") for n in range(1, max(source, default=0) + 1)))
        except (SyntaxError, ValueError):
            return
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                line = node.lineno
                names = set(_NAME.findall(source.get(line, ""))) - {node.name, "def", "async", "class", "self",
                                                                     "cls", "None", "True", "False"}
                self.headers[line] = names
                if not isinstance(node, ast.ClassDef):
                    self.spans.setdefault(node.name, []).append((line, node.end_lineno or line))

    def _already_there(self, code: str, line: int) -> bool:
        """Whether `code` is the text of a line within _NEAR of `line`, or of a few consecutive lines joined."""
        code = _norm(code)
        for first in range(line - _NEAR, line + _NEAR + 1):
            joined = ""
            for n in range(first, first + 4):
                joined = _norm(f"{joined} {self.source.get(n, '')}")
                if joined == code:
                    return True
        return False

    def restates(self, finding: Finding) -> bool:
        """Whether a model finding only restates the code: every change it proposes is the code already there, or it
        proposes none and says nothing but quotes of nearby code and framing words."""
        proposals = _PROPOSAL.findall(finding.message)
        if proposals:
            replaced = {_norm(new): _norm(old) for old, new in _PAIR.findall(finding.message)}
            return all(replaced.get(_norm(p)) == _norm(p) or self._already_there(p, finding.line) for p in proposals)
        if finding.suggestion:
            return False
        quotes = [q for q in _QUOTED.findall(finding.message) if q.strip(" :")]
        near = " ".join(_norm(self.source.get(n, "")) for n in range(finding.line - _NEAR, finding.line + _NEAR + 1))
        if not quotes or not all(_norm(q).strip(" :") in near for q in quotes):
            return False
        code_words = set(_NAME.findall(near))
        return all(w.lower() in _FRAMING or w in code_words for w in _NAME.findall(finding.message))

    def ungrounded(self, finding: Finding) -> bool:
        """Whether a model finding names no defect at its line (see the module's docstring for the shapes)."""
        suggestion = finding.suggestion
        if _CHANGE.match(suggestion):
            added = _CHANGE.sub("", suggestion).split(" / ")
            if only_documentation(added):
                return True
            changed = suggestion.lower().startswith("change to")
        else:
            changed = False
        text = f"{finding.message} {suggestion}"
        if finding.line in self.headers and not changed and not _SIGNATURE.search(text):
            quoted = {n for snippet in _QUOTED.findall(text) for n in _NAME.findall(snippet)}
            if not quoted & self.headers[finding.line]:
                return True
        named = [name for name in self.spans
                 if len(name) >= 3 and re.search(_NAMED.format(name=re.escape(name)), finding.message)]
        line_names = set(_NAME.findall(self.source.get(finding.line, "")))
        return bool(named) and not any(first <= finding.line <= last or name in line_names
                                       for name in named for first, last in self.spans[name])
