"""Cheap exact guards for the semantic cache: what must be identical between two prompts before their embeddings'
similarity is even considered (numbers, negations, names, code identifiers, quoted text, language, word swaps).

An embedding says "these prompts are about the same thing"; it does not say "these prompts ask the same thing":
"is X safe" and "is X not safe" embed almost alike. These rules never look at meaning, only at surface facts that
a paraphrase keeps and a near-miss changes, so they err towards a miss. Pure text rules, microseconds.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..routing.signals import detect_language

# Words that carry no fact a paraphrase must keep: articles, pronouns, auxiliaries, question words and request
# verbs ("explain", "tell me"), in the languages the router knows. Negations, numbers and English relation words
# (from, to, in, for, about, with, by, than, or) are deliberately absent: they change what is asked ("a poem for my
# mother" / "about my mother").
FILLER = frozenset("""
a an the this that these those it its it's i me my mine you your yours we our us he she him her his they them their
is are was were be been being am do does did done doing have has had having can could would should will shall may might
must ca wo please pls plz kindly hey hi hello ok okay so just also then now well really very quite some any
what what's whats which who whom whose when where why how how's
and but if of as
tell explain describe give say help let let's lets need want know all
u ur q yo hey sup dude bro lol omg ugh umm um hmm ngl tbh gimme wanna
exactly actually basically
there here s t
der die das den dem des ein eine einen einem einer eines ist sind war waren sein bin bist hat haben hatte kann können
könnte würde soll sollte muss mir mich du dir dich ich es er sie wir ihr ihnen was wie wer wo wann warum welche
welcher welches bitte und oder aber mit für auf im in am an bei zum zur erkläre erklär erklären sag sage gib zeig
zeige beschreibe schreibe mal doch denn eigentlich
le la les l un une des du de d est sont été être a ont avait peut peux pouvez pourrais je j me m moi tu te t toi il
elle nous vous ils elles ce c cet cette ces qu que quoi qui quel quelle quels quelles comment pourquoi où quand
est-ce et ou mais avec pour sur dans en au aux explique expliquez dis dites donne donnez montre écris décris
s'il plaît stp svp
el lo los las una unos unas es son fue ser está están estar puedes puede podrías yo mí tú te se él ella nosotros
qué que cuál cuáles cómo quién dónde cuándo por porque y o pero con para sobre del al explica explícame dime dame
muestra escribe describe favor
il gli i uno è sono era essere puoi può potresti io mi ti tu lui lei noi voi che cosa quale quali come chi dove
quando perché e ma con per su nel della di del alla spiega dimmi dammi mostra scrivi descrivi
o os as um uma é são foi ser pode podes poderia eu você ele ela nós qual quais como quem onde quando porquê e mas
com para sobre no na do da dos das explique explica diga me mostre escreva descreva
""".split())

NEGATIONS = frozenset("""
not no never none nobody nothing nowhere neither nor without cannot n't
nicht kein keine keinen keinem keiner keines nie niemals nichts ohne weder
ne n pas jamais aucun aucune rien sans ni personne
nunca nada ningún ninguno ninguna sin tampoco
non mai niente nessun nessuno nessuna senza né
não nem nenhum nenhuma sem
""".split())

# Number words become digits, so "top five" and "top 5" agree and "top 5" and "top six" do not. "one"/"a" and
# their cousins are left out: they are mostly articles or pronouns ("which one"), not counts.
_NUMBER_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9,
    "zero": 0, "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "twice": 2, "half": 0.5, "double": 2, "triple": 3,
    "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "sechs": 6, "sieben": 7, "acht": 8, "neun": 9, "zehn": 10,
    "hundert": 100, "tausend": 1000, "erste": 1, "ersten": 1, "zweite": 2, "zweiten": 2, "dritte": 3, "dritten": 3,
    "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "sept": 7, "huit": 8, "neuf": 9, "dix": 10, "cent": 100,
    "mille": 1000, "premier": 1, "première": 1, "deuxième": 2, "troisième": 3,
    "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8, "nueve": 9, "diez": 10,
    "cien": 100, "mil": 1000, "primero": 1, "primera": 1, "segundo": 2, "segunda": 2, "tercero": 3, "tercera": 3,
    "due": 2, "tre": 3, "quattro": 4, "sei": 6, "sette": 7, "otto": 8, "nove": 9, "dieci": 10,
    "duas": 2, "três": 3, "quatro": 4, "oito": 8, "dez": 10,
}

# Words with an opposite whose swap a sentence embedding barely notices ("sort ascending" / "descending"); mapped to
# one token per pole, so synonyms agree ("largest" / "biggest") and opposites do not.
_POLES = {
    "MAX": "largest biggest maximum max highest greatest most longest tallest heaviest oldest größte größten".split(),
    "MIN": "smallest tiniest minimum min lowest least fewest shortest lightest youngest kleinste kleinsten".split(),
    "UP": "increase raise grow enlarge increment up upload ascending asc".split(),
    "DOWN": "decrease lower shrink reduce decrement down download descending desc".split(),
    "BEFORE": "before earlier prior previous vor avant antes prima".split(),
    "AFTER": "after later following next après después dopo".split(),
}
# Question words and persons look like filler to a content-word rule, but "when was X founded" is not "where was X
# founded" and "what is my name" is not "what is your name": the classes present must be the same.
_CLASSES = {
    "Q:who": "who whom whose wer wem wen wessen qui quién quiénes chi quem",
    "Q:when": "when wann quand cuándo quando",
    "Q:where": "where wo wohin woher où dónde dove onde",
    "Q:why": "why warum wieso weshalb pourquoi perché perchè porquê",
    "P:1": "i me my mine myself we us our ours ich mir mich mein meine meinen meinem wir uns unser unsere je j moi "
           "mon ma mes nous notre nos yo mí mis nosotros nuestro nuestra io mio mia miei noi eu meu minha nós",
    "P:2": "you your yours yourself du dir dich dein deine deinen ihr euch euer tu toi ton ta tes vous votre vos tú "
           "tus usted ustedes ti tuo tua voi você vocês teu tua",
    "P:3": "he she him her his hers they them their theirs er ihm ihn sein seine il elle ils elles lui leur leurs él "
           "ella ellos ellas lei loro ele ela eles elas dele dela",
    # tense and modality: "who is the president" is not "who was the president", "can I" is not "must I"
    "T:past": "was were did had wasn't weren't didn't war waren wurde wurden hatte était étaient fut avait fue "
              "fueron era eran foi foram",
    "T:future": "will shall wo won't wird werden sera seront será serán sarà",
    "M:can": "can ca could may might cannot kann könnte darf dürfen peut pourrait puedo puede podría posso può "
             "potrebbe",
    "M:must": "must should ought muss müssen sollte sollen doit devrait debo debe debería devo deve dovrei",
}
# Requests phrased politely ("can you explain", "tell me") ask the same as the bare imperative: these words are
# dropped before the classes above are read, so "Can you explain X?" still matches "Explain X.".
_POLITE = re.compile(r"\bhow\s+(?:do|does|can|could)\s+(?:i|you|we|one)\s+|\bhow\s+to\s+|"
                     r"\b(?:can|could|would|will)\s+you\s+(?:please\s+)?|\b(?:please|kindly)\b|"
                     r"\b(tell|give|show|explain|send|help|teach)\s+me\b|"
                     r"\b(erkläre|erklär|gib|sag|zeig|zeige)\s+mir\b|\bkannst\s+du\s+(?:mir\s+)?",
                     re.IGNORECASE)
_CLASS_OF = {word: name for name, words in _CLASSES.items() for word in words.split()}
_POLE_OF = {word: pole for pole, words in _POLES.items() for word in words if word not in FILLER}
POLES = frozenset(_POLES)

# Units and time frames: a near-miss swaps one for its neighbour ("in Celsius" / "in Fahrenheit", "today" /
# "tomorrow") and the word embeddings put such neighbours close together (celsius/fahrenheit 0.66, today/tomorrow
# 0.77), so the embedding match (semantic_match.py) must never pair them: each is a slot both prompts fill alike.
# Spelling variants and plurals map to one name.
_UNITS = {
    "meter": "meter meters metre metres", "kilometer": "kilometer kilometers kilometre kilometres km kms",
    "centimeter": "centimeter centimeters centimetre centimetres cm", "millimeter": "millimeter millimeters mm",
    "mile": "mile miles", "foot": "foot feet ft", "inch": "inch inches", "yard": "yard yards yd",
    "gram": "gram grams", "kilogram": "kilogram kilograms kg kgs kilo kilos", "milligram": "milligram milligrams mg",
    "pound": "pound pounds lb lbs", "ounce": "ounce ounces oz", "ton": "ton tons tonne tonnes", "stone": "stone",
    "liter": "liter liters litre litres", "milliliter": "milliliter milliliters millilitre millilitres ml",
    "gallon": "gallon gallons", "quart": "quart quarts", "pint": "pint pints", "cup": "cup cups",
    "tablespoon": "tablespoon tablespoons tbsp", "teaspoon": "teaspoon teaspoons tsp",
    "celsius": "celsius centigrade", "fahrenheit": "fahrenheit", "kelvin": "kelvin kelvins",
    "second": "seconds sec secs", "minute": "minute minutes", "hour": "hour hours hr hrs",
    "byte": "byte bytes", "bit": "bit bits", "kilobyte": "kilobyte kilobytes kb", "megabyte": "megabyte megabytes mb",
    "gigabyte": "gigabyte gigabytes gb", "terabyte": "terabyte terabytes tb",
    "dollar": "dollar dollars usd", "euro": "euro euros eur", "yen": "yen", "yuan": "yuan",
    "rupee": "rupee rupees", "franc": "franc francs", "peso": "peso pesos", "sterling": "sterling gbp",
    "acre": "acre acres", "hectare": "hectare hectares", "mph": "mph", "knot": "knot knots",
    "calorie": "calorie calories kcal", "joule": "joule joules", "watt": "watt watts", "volt": "volt volts",
    "percent": "percent percentage",
}
_TIMES = {
    "today": "today", "tomorrow": "tomorrow", "yesterday": "yesterday", "tonight": "tonight", "now": "now currently",
    "morning": "morning mornings", "afternoon": "afternoon afternoons", "evening": "evening evenings",
    "night": "night nights", "weekend": "weekend weekends", "week": "week weeks", "month": "month months",
    "year": "year years", "decade": "decade decades", "century": "century centuries",
    "breakfast": "breakfast", "brunch": "brunch", "lunch": "lunch", "dinner": "dinner supper",
    "spring": "spring", "summer": "summer", "autumn": "autumn", "winter": "winter",
    "monday": "monday mondays", "tuesday": "tuesday tuesdays", "wednesday": "wednesday wednesdays",
    "thursday": "thursday thursdays", "friday": "friday fridays", "saturday": "saturday saturdays",
    "sunday": "sunday sundays", "january": "january", "february": "february", "march": "march", "april": "april",
    "june": "june", "july": "july", "august": "august", "september": "september", "october": "october",
    "november": "november", "december": "december", "ancient": "ancient antiquity", "medieval": "medieval",
    "modern": "modern", "future": "future", "history": "history historical",
}
# What a question measures, asked with "how <adjective>" or named by a noun: "how old" / "the age", "how far" /
# "the distance", "the boiling point" / "what temperature ... boil". One token per dimension for the word match, and
# a slot: "how fast can a cheetah run" is not "how far".
_DIMENSIONS = {
    "age": ("old", "age"), "distance": ("far", "distance"), "size": ("big", "size"),
    "height": ("tall", "height"), "speed": ("fast", "speed"), "weight": ("heavy", "weight weigh weighs"),
    "depth": ("deep", "depth"), "temperature": ("hot", "temperature"), "width": ("wide", "width"),
    "frequency": ("often", "frequency"),
}
_DIMENSION_AFTER_HOW = {adj: f"DIM:{name}" for name, (adj, _) in _DIMENSIONS.items()}
_DIMENSION_NOUN = {noun: f"DIM:{name}" for name, (_, nouns) in _DIMENSIONS.items() for noun in nouns.split()}
_POINT_TEMPERATURES = frozenset("boiling melting freezing".split())  # "the boiling point": a temperature
# Irregular English verb forms, read as their base for the word match ("spoken" / "speak", "wrote" / "write").
_IRREGULAR = {form: base for base, forms in {
    "speak": "spoke spoken", "write": "wrote written", "eat": "ate eaten", "make": "made", "take": "took taken",
    "give": "gave given", "go": "went gone", "see": "seen", "know": "knew known", "grow": "grew grown",
    "begin": "began begun", "drive": "drove driven", "fly": "flew flown", "sing": "sang sung", "swim": "swam swum",
    "think": "thought", "buy": "bought", "bring": "brought", "teach": "taught", "catch": "caught", "build": "built",
    "sell": "sold", "tell": "told", "hold": "held", "lose": "lost", "pay": "paid",
    "run": "ran", "say": "said", "send": "sent", "spend": "spent", "stand": "stood", "win": "won",
    "fall": "fell fallen", "freeze": "froze frozen", "choose": "chose chosen", "break": "broke broken",
    "forget": "forgot forgotten", "hide": "hid hidden", "rise": "risen", "wear": "wore worn",
    "feel": "felt", "keep": "kept", "sleep": "slept", "meet": "met", "fight": "fought",
}.items() for form in forms.split()}
# Words that place a time frame relative to now: "last week" is not "this week" or "next week".
_TIME_MODIFIERS = frozenset("last this next past coming previous upcoming".split())
_UNIT_OF = {word: unit for unit, words in _UNITS.items() for word in words.split()}
_TIME_OF = {word: name for name, words in _TIMES.items() for word in words.split()}
# (single letters and "min"/"second" are left out: "m", "g" are names or letters as often, "min" is a pole and
# "second" an ordinal)
# Negating prefixes: "unsafe" against "safe", "non-magnetic" against "magnetic", "uninstall" against "install".
NEGATING_PREFIXES = ("non-", "non", "un", "in", "im", "il", "ir", "dis", "de", "anti")

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_NUMBER = re.compile(r"(?<![\w.])[-−]?\d+(?:[.,]\d+)*%?")
_QUOTED = re.compile(r"\"([^\"]{1,200})\"|“([^”]{1,200})”|«\s?([^»]{1,200}?)\s?»|`([^`]{1,200})`|"
                     r"(?:(?<=\s)|^)'([^']{1,200})'(?=[\s.,;:!?)]|$)")
# code identifiers: snake_case, camelCase, dotted.names, calls(), file.ext, paths and URLs
_IDENTIFIER = re.compile(r"(?:[A-Za-z_$][\w$]*(?:[./:\\][\w$-]+)+|[A-Za-z_$]*_[\w$]*|[a-z]+[A-Z][\w$]*|"
                         r"[A-Za-z_$][\w$]*(?=\())")
_OPERATOR = re.compile(r"(?<=[\d\s)])([+\-−*/×÷^%=<>])(?=[\s\d(.-])")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n]\s*|[¿¡]\s*)([^\W\d_][\w'’-]*)", re.UNICODE)
_SINGLE_LETTER = re.compile(r"(?<![^\W\d_])[^\W\d_](?![^\W\d_])")
_NEGATION_SUFFIX = re.compile(r"n['’]t\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Facts:
    """The surface facts of one prompt that a cached answer's prompt must share exactly."""

    language: str
    numbers: tuple[str, ...]
    operators: tuple[str, ...]
    negations: int
    names: tuple[str, ...]
    identifiers: tuple[str, ...]
    quoted: tuple[str, ...]
    poles: tuple[str, ...]
    classes: tuple[str, ...]  # question words, persons, tense, modality, in order of appearance (_CLASSES)
    words: tuple[str, ...]  # content words in order (not part of the signature: compared pair by pair)
    # Read for the embedding match (semantic_match.py) only; the exact rule (`disagreement`) ignores them:
    units: tuple[str, ...] = ()  # units of measure and currencies, sorted (_UNITS)
    times: tuple[str, ...] = ()  # time frames with their "last"/"next", sorted (_TIMES)
    frames: tuple[str, ...] = ()  # `classes` plus the question frames other words ask ("what causes": why)
    tokens: tuple[str, ...] = ()  # `words` without the frame words, with single capital letters ("C", "R")
    surface: tuple[str, ...] = ()  # each token as written (lowercased, unstemmed): what the word embedding reads
    dimensions: tuple[str, ...] = ()  # what the question measures: age, distance, speed... (_DIMENSIONS)
    quantities: tuple[str, ...] = ()  # each number with the unit right after it ("30 celsius"), sorted
    asked: tuple[str, ...] = ()  # the word right after "which"/"what": the kind of answer asked for ("city")
    # `units` in the order they are written: "ounces in a kilogram" is not "kilograms in an ounce"
    unit_order: tuple[str, ...] = ()

    def signature(self) -> str:
        """A digest of the facts that must be equal, so the store fetches only candidates that agree on them.
        Language, names and the question words, persons, tense and modality are compared pair by pair instead (an
        unknown language, a lowercased name or a question asked another way is no disagreement by itself)."""
        material = "\x1f".join([" ".join(self.numbers), "".join(self.operators), str(self.negations),
                                "\x1e".join(self.identifiers), "\x1e".join(self.quoted), " ".join(self.poles)])
        return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _polite_replacement(m: re.Match[str]) -> str:
    if m.group(0).lower().startswith("how"):
        return m.group(0)[:3] + " "
    return m.group(1) or m.group(2) or ""


def _stem(word: str) -> str:
    """A crude English stem, only so "eat" / "eating" and "cat" / "cats" count as one word."""
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _ordered_unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _number_value(raw: str) -> str:
    return raw.replace("−", "-").rstrip("%") + ("%" if raw.endswith("%") else "")


# Question frames that other words ask: "what causes X" asks why, "how many" and "the number of" ask a quantity,
# "in what year" asks when. Their words are the frame, not the topic: the embedding match does not look for them in
# the other prompt, and the frames must not conflict instead ("why do birds migrate" / "how do birds migrate").
_FRAME_PATTERNS = (
    ("Q:why", re.compile(r"\bwhat\s+(makes|made|causes|caused)\b|\b(causes?|reasons?)\s+(?:of|for|why)\b",
                         re.IGNORECASE)),
    ("Q:qty", re.compile(r"\bhow\s+(many|much)\b|\b(?:the|what|which)\s+(number|amount)\s+of\b", re.IGNORECASE)),
    ("Q:when", re.compile(r"\b(?:what|which)\s+(year)\b", re.IGNORECASE)),
    # a bare "how" asks for a way or a mechanism; "how far/old/tall..." ask for a quantity named by the next word
    ("Q:how", re.compile(r"\bhow\b(?!\s+(?:many|much|far|fast|long|old|big|tall|large|high|deep|often|heavy|hot|"
                         r"cold|wide|late|early|soon|quickly|small)\b)", re.IGNORECASE)),
)


def _frame_word_positions(text: str) -> set[int]:
    """Where the words that only make up a question frame start (skipped by the embedding match)."""
    return {m.start(g) for _, pattern in _FRAME_PATTERNS for m in pattern.finditer(text)
            for g in range(1, (pattern.groups or 0) + 1) if m.group(g)}


def _frames(text: str) -> list[str]:
    return [name for name, pattern in _FRAME_PATTERNS if pattern.search(text)]


def prompt_facts(prompt: str) -> Facts:
    """What a prompt asserts on its surface: read once per prompt, stored with a cached answer."""
    text = unicodedata.normalize("NFC", prompt)
    quoted = [next(g for g in m.groups() if g is not None) for m in _QUOTED.finditer(text)]
    identifiers = _ordered_unique([m.group(0) for m in _IDENTIFIER.finditer(text)
                                   if not m.group(0).replace(".", "").replace(",", "").isdigit()])
    # "how do I", "how can I", "how do you", "how to": one generic question, "how"
    expanded = _NEGATION_SUFFIX.sub(" not", _POLITE.sub(_polite_replacement, text))
    numbers = [_number_value(m.group(0)) for m in _NUMBER.finditer(expanded)]
    operators = [m.group(1).replace("−", "-").replace("×", "*").replace("÷", "/") for m in _OPERATOR.finditer(text)]
    starts = {m.start(1) for m in _SENTENCE_START.finditer(expanded)}
    frame_words = _frame_word_positions(expanded)
    names: list[str] = []
    words: list[str] = []
    classes: list[str] = []
    units: list[str] = []
    times: list[str] = []
    tokens: list[str] = []
    surface: list[str] = []
    dimensions: list[str] = []
    asked: list[str] = []
    negations = 0
    previous = ""
    quantities: list[str] = []
    last_number: tuple[str, int] | None = None
    for index, m in enumerate(_WORD.finditer(expanded)):
        raw = m.group(0)
        low = raw.lower().replace("’", "'")
        if low.endswith("'s"):
            low, raw = low[:-2], raw[:-2]
        before, previous = previous, low
        parts = low.split("'")  # l'eau, n'est, qu'est
        if any(p in NEGATIONS for p in parts):
            negations += 1
            continue
        if low in _NUMBER_WORDS:
            numbers.append(str(_NUMBER_WORDS[low]))
            last_number = (numbers[-1], index)
            continue
        if low[0].isdigit():  # numbers are compared as numbers, above
            last_number = (_number_value(low), index)
            continue
        classes.extend(_CLASS_OF[p] for p in parts if p in _CLASS_OF)
        framing = m.start() in frame_words  # "in what year" asks when; it names no time frame
        if low in _UNIT_OF and not framing:
            units.append(_UNIT_OF[low])
            # "30 degrees Celsius in Fahrenheit": the number belongs to the unit after it, not to the other one
            if last_number is not None and index - last_number[1] <= 2:
                quantities.append(f"{last_number[0]} {_UNIT_OF[low]}")
        if low in _TIME_OF and not framing:
            times.append(f"{before} {_TIME_OF[low]}" if before in _TIME_MODIFIERS else _TIME_OF[low])
        head = parts[-1] if len(parts) > 1 and parts[0] in FILLER else low
        if len(raw) == 1 and raw.isupper() and raw not in "IA" and m.start() not in starts:
            tokens.append(low)  # a one-letter name: "C", "R", "X"
            surface.append(low)
        if head in FILLER:
            continue
        # A capital inside a sentence is a name (or an acronym, a product): it must match. At a sentence start a
        # capital says nothing, unless the word has more capitals than its first letter (NASA, iPhone).
        capitals = sum(ch.isupper() for ch in raw)
        if capitals and (m.start() not in starts or capitals > 1 or not raw[0].isupper()):
            names.append(head)
        word = _POLE_OF.get(head, _stem(head))
        words.append(word)
        if not framing:
            if head in _DIMENSION_NOUN or (before == "how" and head in _DIMENSION_AFTER_HOW):
                word = _DIMENSION_NOUN.get(head) or _DIMENSION_AFTER_HOW[head]
                dimensions.append(word)
            elif head == "point" and before in _POINT_TEMPERATURES:
                word = "DIM:temperature"
                dimensions.append(word)
            elif head in _IRREGULAR:  # the base for the exact match, the form as written for the embedding
                word = _IRREGULAR[head]
            if before in ("which", "what"):  # "which city is the capital": the kind of answer asked for
                asked.append(word)
            tokens.append(word)
            surface.append(head)
    poles = sorted({w for w in words if w in _POLES})
    # Single letters ("big-O", "a", "e", "o") are stopwords in some language or other and tip a short prompt's
    # guess: only longer words count as evidence of a language.
    language = detect_language(_SINGLE_LETTER.sub(" ", text))
    return Facts(language=language, numbers=tuple(numbers), operators=tuple(operators),
                 negations=negations, names=_ordered_unique(names), identifiers=identifiers,
                 quoted=tuple(quoted), poles=tuple(poles), classes=_ordered_unique(classes),
                 words=tuple(words), units=tuple(sorted(units)), times=tuple(sorted(times)),
                 frames=_ordered_unique(classes + _frames(expanded)), tokens=tuple(tokens), surface=tuple(surface),
                 dimensions=tuple(sorted(set(dimensions))), quantities=tuple(sorted(quantities)),
                 asked=tuple(asked), unit_order=_ordered_unique(units))


@dataclass(frozen=True, slots=True)
class Crossing:
    """Two words both prompts have, in the other order in each: the words between them on either side."""

    exact: bool  # each stands where the other stood ("5 km to miles" / "5 miles to km")
    between_a: tuple[str, ...]
    between_b: tuple[str, ...]

    @property
    def around_a_kept_word(self) -> bool:
        """A word that stays between them: "Python faster than Java" / "Java faster than Python"."""
        return bool(set(self.between_a) & set(self.between_b))


def crossings(a: Sequence[str], b: Sequence[str]) -> Iterator[Crossing]:
    """Every pair of shared words that trade places (first occurrences), for the rules that decide which crossings
    swap roles (swapped here, roles_swapped in semantic_match.py)."""
    pos_a = {w: i for i, w in reversed(list(enumerate(a)))}
    pos_b = {w: i for i, w in reversed(list(enumerate(b)))}
    shared = [w for w in pos_a if w in pos_b]
    for i, x in enumerate(shared):
        for y in shared[i + 1:]:
            if (pos_a[x] < pos_a[y]) == (pos_b[x] < pos_b[y]):
                continue
            lo_a, hi_a = sorted((pos_a[x], pos_a[y]))
            lo_b, hi_b = sorted((pos_b[x], pos_b[y]))
            yield Crossing(pos_a[x] == pos_b[y] and pos_a[y] == pos_b[x], tuple(a[lo_a + 1:hi_a]),
                           tuple(b[lo_b + 1:hi_b]))


def swapped(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Two words trade places: exactly ("5 km to miles" / "5 miles to km") or around a word that stays between
    them ("Python faster than Java" / "Java faster than Python", "from the desktop to the folder" / "from the folder
    to the desktop"). Same words, other roles. Moving one word to the other end ("python: reverse a string" /
    "reverse a string in python") is neither."""
    return any(c.exact or c.around_a_kept_word for c in crossings(a, b))


def disagreement(a: Facts, b: Facts) -> str | None:
    """Why prompt b may not be served prompt a's answer, or None when no guard objects.

    Exact facts first (numbers, negations, identifiers, quoted text, opposites, language, names), then the word
    rules: a content word replaced by another ("capital of france" / "of germany", "sort" / "reverse a list") and
    words that trade places.
    """
    for field in ("numbers", "operators", "negations", "identifiers", "quoted", "poles", "classes"):
        if getattr(a, field) != getattr(b, field):
            return f"{field} differ"
    if a.language != b.language and "und" not in (a.language, b.language):
        return f"languages differ ({a.language}, {b.language})"
    # A name must be there in the other prompt too, capitalised or not ("France" / "france"); its order is the
    # swap rule's business.
    for x, y in ((a, b), (b, a)):
        missing = [n for n in x.names if _POLE_OF.get(n, n) not in y.words]
        if missing:
            return f"name {missing[0]!r} is not in both"
    only_a = set(a.words) - set(b.words)
    only_b = set(b.words) - set(a.words)
    if only_a or only_b:
        # A content word on one side only: something else was asked ("capital of france" / "of germany"), or
        # something was added that narrows it ("a tire" / "a bike tire"), or it was said in other words. A cheap
        # rule cannot tell these apart, so all of them miss: the tier serves rephrasings of the same words only.
        extra = sorted(only_a or only_b)[0]
        return f"word {extra!r} is in one prompt only"
    matcher = difflib.SequenceMatcher(a=a.words, b=b.words, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "replace":
            return f"word {' '.join(a.words[i1:i2])!r} replaced by {' '.join(b.words[j1:j2])!r}"
    if swapped(a.words, b.words):
        return "words trade places"
    return None


def _frame_conflict(a: tuple[str, ...], b: tuple[str, ...]) -> str | None:
    """The first family (question word, person, tense, modality) both prompts state and state differently:
    "when" / "where", "my" / "your", "is" / "was". A family only one of them states is phrasing ("why do we yawn" /
    "what makes us yawn", "how do I tie a tie" / "what are the steps to tie a tie")."""
    for family in dict.fromkeys(f.split(":")[0] for f in a + b):
        mine = {f for f in a if f.startswith(family + ":")}
        theirs = {f for f in b if f.startswith(family + ":")}
        if mine and theirs and mine != theirs:
            return f"{family} differs ({', '.join(sorted(mine))} / {', '.join(sorted(theirs))})"
    return None


def slot_disagreement(a: Facts, b: Facts) -> str | None:
    """The key slots the word match (semantic_match.py) needs equal before it compares words: numbers,
    operators, negations, identifiers, quoted text, opposites, units, time frames, language, names (one-letter
    names too), and question frames that conflict."""
    for field in ("numbers", "operators", "negations", "identifiers", "quoted", "poles", "units", "times",
                  "dimensions", "quantities"):
        if getattr(a, field) != getattr(b, field):
            return f"{field} differ"
    if a.unit_order != b.unit_order:
        return "units trade places"
    if a.language != b.language and "und" not in (a.language, b.language):
        return f"languages differ ({a.language}, {b.language})"
    for x, y in ((a, b), (b, a)):
        # (a name is read unstemmed: "Windows" is no plural)
        present = set(y.words) | set(y.surface) | set(y.names)
        missing = [n for n in x.names if _POLE_OF.get(n, n) not in present and n not in present]
        letters = [t for t in x.tokens if len(t) == 1 and t not in y.tokens]
        if missing or letters:
            return f"name {(missing or letters)[0]!r} is not in both"
    return _frame_conflict(a.frames, b.frames)
