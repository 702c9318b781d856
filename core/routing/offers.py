"""Which of its intent's tools a prompt needs: the router offers a tool only when the prompt shows the need (a path
or file name for the file tools, the user's own documents for docs_search, a URL for web_fetch, code to run for
python_run, this computer for system_info, a quantity for the calculator), and says why for each tool.

"Summarize the plot of Hamlet" sounds like a docs request and "List the planets" like a file listing; offering them
tools made a 0.5B model ask for a permission and search for an invented planets.txt. Pure text rules; they never
add a tool the policy does not offer for some intent, and they never grant anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .lexicons import LEXICONS, OFFER_CUES, Lexicons
from .signals import CODE_FENCE, CODE_SYNTAX, EQUATION, PERCENT_SIGN, URL, Signals, lexicon_pattern, matchable

# Intents that exist to use their tools: without a tool the prompt is a chat question, and their system prompts
# ("answer from the user's documents", "act through functions") would mislead the model.
TOOL_ONLY_INTENTS = ("docs", "action")
# Intents where a URL, a path or a file name alone brings its tool in, whatever the intent offers. Not code: a
# traceback is full of paths, and pasted code is to be explained, not read from disk. Not math.
CUE_LED_INTENTS = ("chat", "docs", "action")
FALLBACK_INTENT = "chat"
# The cue words are mostly English (the labelled offers are English); in other languages a rule that finds no cue
# knows little, so a prompt there is offered its intent's tools as before rather than losing them.
CUE_LANGUAGES = ("en", "und")
# Signals that a prompt is about this computer or the user's own things. An action prompt with one of them stays
# an action even when no tool can do it ("mute the sound": the model says how); one with none is a question that
# only sounded like a command ("List the planets in order") and is answered as chat.
COMPUTER_SIGNALS = ("path", "file_name", "url", "folder_words", "system_words", "run_request", "doc_reference",
                    "uploaded")

FILE_TOOLS = ("files_list", "files_read", "files_search")


def _cue(name: str, cues: Lexicons = OFFER_CUES) -> re.Pattern[str]:
    return lexicon_pattern(*cues[name])


def _alternatives(phrases: Sequence[str]) -> str:
    """Phrases as one regex alternation, longest first, any run of spaces between words."""
    return "|".join(re.escape(n).replace(r"\ ", r"\s+") for n in sorted(phrases, key=len, reverse=True))


def _noun_phrase(owners: str, nouns: Sequence[str], gap: int = 3) -> re.Pattern[str]:
    """An owner word, up to `gap` words, then one of the nouns: "my meeting notes", "the Downloads folder"."""
    return re.compile(rf"(?<!\w)(?:{owners})\s+(?:[\w'.-]+\s+){{0,{gap}}}?(?:{_alternatives(nouns)})(?!\w)",
                      re.IGNORECASE)


def _owners(words: Sequence[str]) -> str:
    return "|".join(re.escape(w.rstrip("*")) + (r"\w*" if w.endswith("*") else "") for w in words)


# A path as a user types it: ~/notes, /etc/hosts, ./build, ..\x, C:\Users. Not "km/h" or "and/or": the slash must
# open the token. The file name: a name and a known extension ("report_2024.docx"), never a bare ".py".
FILE_PATH = re.compile(r"(?:(?<![\w/:.])(?:~|\.{1,2})?/(?=[\w.~-])[\w.~-]+(?:/[\w.~ -]*)*|"
                       r"(?<!\w)~/|(?<!\w)[A-Za-z]:\\|(?<!\w)\.{1,2}\\[\w.-])")
FILE_NAME = re.compile(r"(?<![\w/.])[\w-]+\.(?:pdf|txt|docx?|xlsx?|pptx?|csv|json|ya?ml|toml|ini|cfg|conf|log|md|"
                       r"rst|py|js|ts|sh|html?|xml|zip|tar|gz|png|jpe?g|gif|mp3|mp4)(?![\w])", re.IGNORECASE)
DIGIT = re.compile(r"\d")
# "how many grams are in a pound": a conversion the calculator can do once the model knows the factor.
CONVERSION = re.compile(r"\bhow\s+many\s+[\w-]+\s+(?:are\s+)?(?:there\s+)?in\s+(?:a|an|one)\s+[\w-]+", re.IGNORECASE)
ARITHMETIC_SYMBOL = re.compile(r"\d\s*(?:[-+*/×÷^%]|\*\*)\s*\(?\d|[√²³]|\d\s*!")

POSSESSIVE = _owners(OFFER_CUES["possessive"])
OWN_DOCUMENT = _noun_phrase(POSSESSIVE, LEXICONS["doc_nouns"])
OWN_DOCS_PHRASE = _cue("own_docs")
DOC_NOUN = lexicon_pattern(*LEXICONS["doc_nouns"], *OFFER_CUES["more_doc_nouns"])
# "what did I write down", "the lease I saved"; not "how do I write".
I_DID = re.compile(rf"(?<!\w)(?<!do\s)(?:did\s+I|have\s+I|I've|I\s+have|I)\s+(?:\w+\s+)?"
                   rf"(?:{_alternatives(OFFER_CUES['own_doc_verbs'])})(?!\w)", re.IGNORECASE)
# "a good research report", "an essay": a kind of document, not one of the user's.
SOME_DOCUMENT = _noun_phrase(r"a|an|any|what's\s+a|what\s+is\s+a", LEXICONS["doc_nouns"], gap=2)
OWN_FILE = _noun_phrase(POSSESSIVE + "|this|that|the", OFFER_CUES["file_nouns"], gap=2)
FILE_NOUN = _cue("file_nouns")
SYSTEM_NOUN = _cue("system_nouns")
THIS_MACHINE = _cue("this_machine")
RUN_VERB = lexicon_pattern(*LEXICONS["run_verbs"])
CODE_NOUN = _cue("code_nouns")
NUMBER_WORD = _cue("number_words")
IN_GENERAL = _cue("in_general")
KNOWN_WORK = _cue("known_work")
# A capitalised name inside the sentence ("of Hamlet", "The Great Gatsby"): a work or an entity the model may know.
NAME = re.compile(r"(?<=[\w,;:'\")]\s)(?!I\b)[A-Z][\w'-]+")
_OPENING = _cue("answer_openings")
POLITE = re.compile(r"^\W*(?:(?:please|pls|can you|could you|would you|hey|ok|okay|now)\b[\s,]*)*", re.IGNORECASE)


def answer_opening(text: str) -> str | None:
    """The opening words when the prompt opens as a request for an answer ("List ...", "What ..."), else None."""
    rest = POLITE.sub("", text, count=1)
    match = _OPENING.match(rest)
    return match.group(0) if match else None


@dataclass(frozen=True, slots=True)
class Prompt:
    """What the rules read: the matchable text, the router's signals, and the intent it chose."""

    text: str
    signals: Signals
    intent: str

    def hit(self, feature: str) -> str | None:
        """The first snippet a router signal matched, or None."""
        if not self.signals.counts.get(feature):
            return None
        return (self.signals.hits.get(feature) or [feature])[0]


@dataclass(frozen=True, slots=True)
class Need:
    """Whether a prompt shows the need one rule looks for, and what it saw (for the reason)."""

    found: bool
    why: str


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return " ".join(match.group(0).split())[:40] if match else None


def _seen(what: str, snippet: str | None) -> Need:
    return Need(True, f"{what} {snippet!r}") if snippet is not None else Need(False, "")


def needs_calculator(p: Prompt) -> Need:
    text = p.text
    for what, pattern in (("arithmetic", ARITHMETIC_SYMBOL), ("an equation", EQUATION), ("a percentage", PERCENT_SIGN),
                          ("a number", DIGIT), ("a unit conversion", CONVERSION), ("a quantity", NUMBER_WORD)):
        snippet = _first(pattern, text)
        if snippet is not None:
            return _seen(what, snippet)
    return Need(False, "no numbers to compute with")


def needs_documents(p: Prompt) -> Need:
    snippet = (_first(OWN_DOCUMENT, p.text) or _first(OWN_DOCS_PHRASE, p.text) or _first(I_DID, p.text)
               or p.hit("doc_reference") or p.hit("uploaded"))
    if snippet is None and p.intent == "docs":  # "the standup notes", "the textbook PDF": a document, not a work
        nouns = [m.group(0) for m in DOC_NOUN.finditer(p.text)]
        generic = {m.group(0).split()[-1].lower() for m in SOME_DOCUMENT.finditer(p.text)}
        snippet = next((n for n in nouns if n.lower() not in generic), None)
        if snippet is not None:
            return _seen("a document:", snippet)
        known = (_first(KNOWN_WORK, p.text) or _first(NAME, p.text) or _first(SOME_DOCUMENT, p.text)
                 or _first(IN_GENERAL, p.text))
        if known is None:  # nothing says either way: the classifier said docs, so it is offered, as before
            return Need(True, "a docs request with nothing naming a known work")
        return Need(False, f"no reference to your own documents; a known work, a subject or a question in general "
                           f"({known!r})")
    return _seen("your own documents:", snippet) if snippet else Need(False, "no reference to your own documents")


def needs_files(p: Prompt) -> Need:
    for what, pattern in (("a path", FILE_PATH), ("a file name", FILE_NAME), ("your files:", OWN_FILE)):
        snippet = _first(pattern, p.text)
        if snippet is not None:
            return _seen(what, snippet)
    if p.intent == "action" and _first(IN_GENERAL, p.text) is None:  # "find all files modified today"
        place = p.hit("folder_words") or _first(FILE_NOUN, p.text)
        if place is not None:
            return _seen("files:", place)
    return Need(False, "no path, file name or file of yours")


def needs_web(p: Prompt) -> Need:
    snippet = _first(URL, p.text)
    return _seen("a URL", snippet) if snippet else Need(False, "no URL")


def needs_code_run(p: Prompt) -> Need:
    text = p.text
    verb = _first(RUN_VERB, text)
    if verb is None:
        return Need(False, "not asked to run anything")
    code = _first(CODE_FENCE, text) or _first(CODE_SYNTAX, text) or _first(CODE_NOUN, text)
    if code is None:
        return Need(False, f"{verb!r} but no code to run")
    return Need(True, f"asked to {verb.lower()} code {code!r}")


def needs_system(p: Prompt) -> Need:
    noun = _first(SYSTEM_NOUN, p.text)  # what system_info reports; not the sound or the screen, which it cannot set
    if noun is None:
        return Need(False, "nothing about this computer's system")
    whose = _first(THIS_MACHINE, p.text)
    if whose is not None:
        return Need(True, f"this computer's {noun!r} ({whose!r})")
    general = _first(IN_GENERAL, p.text)
    if general is not None or p.intent != "action":
        return Need(False, f"{noun!r} in general ({general!r}), not this computer's" if general else
                    f"{noun!r} in general, not this computer's")
    return Need(True, f"a request about this computer's {noun!r}")


Rule = Callable[[Prompt], Need]
# One rule per built-in tool. A tool with no rule (a plugin's, named in a user's policy) is offered with its
# intent, as before: nothing is known about when it is needed.
RULES: Mapping[str, Rule] = {
    "calculator": needs_calculator,
    "docs_search": needs_documents,
    "files_list": needs_files, "files_read": needs_files, "files_search": needs_files,
    "web_fetch": needs_web,
    "python_run": needs_code_run,
    "system_info": needs_system,
}
# Cues strong enough to bring their tool in whatever a CUE_LED intent offers: a URL, a path, a file name.
STRONG_RULES: Mapping[str, Rule] = {
    "web_fetch": needs_web,
    **{name: (lambda p: Need(bool(_first(FILE_PATH, p.text) or _first(FILE_NAME, p.text)), "")) for name in FILE_TOOLS},
}


@dataclass(frozen=True, slots=True)
class ToolOffer:
    """The tools offered for one prompt, why each is, why the intent's others are not, and the intent that answers
    (a docs or action prompt that needs none of its tools is answered as chat)."""

    intent: str
    tools: tuple[str, ...]
    offered_because: tuple[tuple[str, str], ...] = ()  # (tool, what in the prompt needs it)
    left_out_because: tuple[tuple[str, str], ...] = ()  # (tool, why not)
    note: str = ""  # why the intent changed, when it did


def offer_tools(prompt: str, intent: str, offers: Mapping[str, Sequence[str]], signals: Signals) -> ToolOffer:
    """The tools of `offers[intent]` (the policy's tools per intent) that the prompt needs, plus a URL's or a
    path's tool from another intent when the intent is chat, docs or action. `signals` are the router's for this
    prompt (signals.extract_signals)."""
    p = Prompt(matchable(prompt), signals, intent)
    if signals.language not in CUE_LANGUAGES:
        return ToolOffer(intent, tuple(offers.get(intent, ())),
                         tuple((t, f"offered with its intent: no rules for language {signals.language!r}")
                               for t in offers.get(intent, ())))
    offered: dict[str, str] = {}
    left_out: dict[str, str] = {}
    for tool in offers.get(intent, ()):
        rule = RULES.get(tool)
        need = rule(p) if rule is not None else Need(True, "offered with its intent (no rule for this tool)")
        (offered if need.found else left_out)[tool] = need.why
    if intent in CUE_LED_INTENTS:
        known = [t for tools in offers.values() for t in tools]
        for tool, strong in STRONG_RULES.items():
            if tool in known and tool not in offered and strong(p).found:
                offered[tool] = RULES[tool](p).why
                left_out.pop(tool, None)
    final_intent, note = intent, ""
    own = set(offers.get(intent, ()))
    if intent in TOOL_ONLY_INTENTS and own and not own & set(offered):
        if offered:  # e.g. a URL in a docs-sounding prompt: the intent whose tools these are answers
            final_intent = next((name for name, tools in offers.items() if set(offered) <= set(tools)), intent)
        elif intent == "docs" or (not any(signals.counts.get(f) for f in COMPUTER_SIGNALS)
                                  and answer_opening(p.text) is not None):
            final_intent = FALLBACK_INTENT
        if final_intent != intent:
            note = (f"{', '.join(offered)} needed, not {intent}'s tools, so {final_intent}" if offered
                    else f"no {intent} tool needed, so {final_intent}")
    order = [t for tools in offers.values() for t in tools]
    tools = tuple(sorted(offered, key=order.index))
    return ToolOffer(final_intent, tools, tuple((t, offered[t]) for t in tools),
                     tuple(sorted(left_out.items(), key=lambda kv: order.index(kv[0]))), note)
