"""Which MCP tools a prompt is offered: those whose server or tool name shares a word with the prompt (or whose
description shares two), best matches first, at most a few.

Why words and not the router's intents: MCP tools are whatever the user installed, so no intent in the policy can
name them; a word rule is cheap (no model, no embedding on the path to the first token), predictable (a prompt that
mentions nothing a tool is about is answered exactly as before, with no tool probe), and offering is never granting:
every call still needs the user's grant.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..tools.registry import Tool

MAX_OFFERED = 3  # a small model picks worse among many functions, and each signature costs context
_WORD = re.compile(r"[a-z0-9]+")
# words that say nothing about what a tool does (and "mcp", which every MCP tool's name contains)
_STOP = frozenset("""a an and are can could do does for from get give how in into is it its list me my now of on or
please run set show tell the this that to tool tools use using via what when where which who why will with would you
your mcp server""".split())


def _words(text: str) -> set[str]:
    out = set()
    for w in _WORD.findall(text.lower()):
        if len(w) < 3 or w in _STOP:
            continue
        out.add(w[:-1] if len(w) > 4 and w.endswith("s") else w)
    return out


def _score(prompt_words: set[str], tool: Tool) -> tuple[int, str]:
    """How well `tool` fits (0: not at all) and why, in words a user can check against the prompt."""
    name_words = _words(tool.name.replace("_", " ")) | _words(tool.manifest.plugin.replace("_", " "))
    strong = sorted(prompt_words & name_words)
    weak = sorted(prompt_words & (_words(tool.manifest.description) - name_words))
    if not strong and len(weak) < 2:
        return 0, ""
    why = [f"its name shares {', '.join(map(repr, strong))}" if strong else "",
           f"its description shares {', '.join(map(repr, weak))}" if weak else ""]
    return 2 * len(strong) + len(weak), " and ".join(w for w in why if w) + " with the prompt"


def offers(prompt: str, tools: Iterable[Tool], limit: int = MAX_OFFERED) -> list[tuple[Tool, str]]:
    """The MCP tools (names starting `mcp__`) that fit `prompt`, best first, each with why; ties keep the
    registry's order."""
    words = _words(prompt)
    scored = [(score, i, t, why) for i, t in enumerate(tools)
              if t.name.startswith("mcp__") for score, why in (_score(words, t),) if score > 0]
    return [(t, why) for _, _, t, why in sorted(scored, key=lambda x: (-x[0], x[1]))[:limit]]


def matching_tools(prompt: str, tools: Iterable[Tool], limit: int = MAX_OFFERED) -> list[Tool]:
    """The MCP tools that fit `prompt`, best first (see offers)."""
    return [t for t, _ in offers(prompt, tools, limit)]
