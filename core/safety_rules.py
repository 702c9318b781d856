"""Hand-written text rules for the safety check: a few unambiguous harmful requests that are refused outright, and
named cues (harmful intent, protective or harmless context) that the classifier weighs as features.

A rule must stay high-precision: a pattern that could match a harmless prompt belongs in a cue, not a rule.
Every alternative in LEXICONS occurs in at least one prompt of resources/safety_train.jsonl (a test checks it), so
the held-out split stays unseen by the rules as it is by the classifier; a new word comes with a training example.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .safety_classifier import normalise

# Regex alternatives over case-folded NFKC text; each is wrapped in word boundaries. `\w*` marks a stem.
LEXICONS: dict[str, tuple[str, ...]] = {
    # ---- words the rules combine
    "make": ("make", "build", "produce", "synthesi[sz]e", "cook", "fabric\\w*", "sintetiz\\w*", "fabriqu\\w*",
             "produire", "baue", "stelle", "costrui\\w*", "cultur\\w*", "cultivar", "grow", "weaponi[sz]e",
             "vermehren"),
    "explosive": ("(?:pipe|car)[- ]?bombs?", "bombs?", "bomba", "rohrbombe", "explosi\\w+", "molotov\\w*"),
    "explosive_defusers": ("bath ?bombs?", "photo ?bomb\\w*", "history", "baking soda"),
    "agent": ("sarin", "vx", "nerve ?(?:agent|gas)", "nervengas", "gas mostaza", "ricin[ae]?",
              "anthrax", "milzbrand\\w*", "botulinum", "smallpox", "chlorine gas", "pathogen", "fentanyl",
              "methamphetamine", "bacteria peligrosa"),
    "write": ("write", "create", "code", "generate", "escrib\\w*", "écri\\w*", "rédige", "schreib\\w*", "scrivi"),
    "malware": ("ransomware", "keylogger", "trojan\\w*", "botnet", "virus", "malware", "cryptominer", "spyware"),
    "malware_defusers": ("about", "essay", "report", "detect\\w*", "protect\\w*", "explain\\w*", "avoid"),
    "scam_material": ("phishing (?:email|payload|kit)", "correo de phishing", "faux sms", "fake reviews",
                      "fake invoices", "fake charity", "betrugsmasche"),
    "scam_defusers": ("report\\w*", "spot", "detect\\w*", "avoid\\w*", "signs"),
    "child": ("child\\w*", "kids?", "minors?", "underage", "\\d{1,2}[- ]year[- ]old", "sixth-grade", "niñ[oa]s?",
              "menores", "enfants?", "mineurs?", "kinder\\w*", "minderjährig\\w*", "ragazzin\\w*",
              "\\d{1,2} (?:años|anni|jahre|jaar)", "\\d{1,2}-jährig\\w*", "menino", "meisje", "bambini", "crianças",
              "alumna", "teenage girl", "little girl", "middle-school student"),
    "sexual": ("sex\\w*", "erotic", "explicit", "nudes?", "érotique", "nues?", "nackt\\w*",
               "erotica", "íntimas", "sexualised", "seduces", "sexuales", "sexuelles?", "erotische\\w*", "desnudo",
               "nacktfotos", "nacktbilder", "sessuali", "sexuais", "naaktfoto's", "erótico", "sexy",
               "erotisch", "sesso"),
    "child_protective": ("report", "protect\\w*", "safe\\w*", "signs", "educat\\w*", "talk to", "explain", "puberty",
                         "consent", "signaler", "schütze", "parental", "training", "cybertipline", "age of consent",
                         "protejo", "protéger", "proteggo", "proteger", "bescherm", "denuncio", "melde", "grooming"),
    "self_harm_first_person": (
        "kill myself", "killing myself", "end my life", "suicide (?:method|note)", "cut myself", "my self-harm",
        "to overdose", "to not wake up", "don't want to be alive", "suicidarme", "quiero morir",
        "mettre fin à mes jours", "me faire du mal", "mich umbringen", "nicht mehr leben", "me matar",
        "starve myself", "walk me through how to do it", "take my life", "quitarme la vida", "en finir",
        "mir das leben nehmen", "togliermi la vita", "tirar minha própria vida", "me tuer", "ich möchte sterben",
        "ik wil niet meer leven", "acabar con todo", "ready to end it", "to die without pain", "nie chcę już żyć",
        "odebrać sobie życie", "się zabić", "ze sobą skończyć"),
    # Someone else's words reported by a friend are a request for help, not intent: "mein Freund will nicht mehr leben".
    "self_harm_defusers": ("friend", "support", "history", "hotlines?", "warning signs", "freund\\w*", "vriend\\w*",
                           "amig[oa]s?", "amic[oa]", "przyjaci\\w*", "amie?", "don't cut myself"),
    # ---- cues: harmful intent
    "harm_verb": ("umbringen", "töten", "vergifte\\w*", "vermoord\\w*", "avvelenare", "envenenar", "blesser", "verletzen", "verprügle", "beat", "drug", "ambush", "burn down", "hide a body", "frapper", "atirar", "kill", "murder", "poison", "stab", "shoot", "hurt", "strangle", "attack", "matar", "tuer",
                  "empoisonner", "erschiessen", "harass\\w*", "take out", "threatening"),
    "person_target": ("my (?:boss|stepson|stepfather's|sister's husband)", "mi suegra", "mio marito", "mijn buurman", "meinen chef", "meine frau", "den hund meines nachbarn", "some(?:one|body)", "people", "her", "them", "my (?:wife|husband|neighbou?r|coworker|ex)",
                      "crowd", "alguien", "gente", "quelqu'un", "jemanden", "mon voisin", "classmate", "he", "she"),
    "covert": ("sans laisser de traces", "ohne dass", "sem ser pego", "sin que", "zonder dat", "senza che", "without (?:him|her|them) knowing", "without being noticed", "never finds?", "don't show", "sin su contraseña", "without her password", "without (?:getting caught|anyone|her|him|knowing|being traced|leaving)", "untraceable", "secretly",
               "won't show up", "sin dejar", "sans que", "heimlich", "looks? like natural causes", "sneak"),
    "mass_harm": ("as many people", "crowd", "subway", "pandemic", "mucha gente", "kill the most", "school",
                  "concert", "power grid"),
    "others_account": ("de mi jefe", "de mi ex", "van mijn baas", "di un'altra persona", "de outra pessoa", "my roommate's", "my neighbour's", "my girlfriend's", "meiner ex-freundin", "someone else's", "my ex's", "my wife's",
                       "my girlfriend's", "i don't own", "de otra persona", "meines chefs", "meiner freundin",
                       "mon mari", "customers'", "ex-girlfriend's"),
    "illicit_gain": ("falsifi\\w*", "estafar", "escroquer", "truffare", "golpe", "wasche", "refunds", "fake fine", "fake doctor's note", "twice for the same", "stolen", "launder", "counterfeit", "forge", "embezzle", "ponzi scheme that", "blanchir",
                     "falsificar", "fälsche", "clonar", "betrug\\w*", "keep the money", "harvest"),
    "dehumanise": ("vermin", "ungeziefer", "ongedierte", "stupid", "burden", "ladrones", "keine menschen", "genetically less intelligent", "less intelligent", "rassistische witze", "blagues racistes", "subhuman", "inferior", "worthless", "terrorists", "slurs", "insults", "racist jokes",
                   "chistes racistas", "plaga", "race inférieure", "animali", "predators", "schuld", "hass",
                   "propaganda to recruit"),
    "self_harm_means": ("sleeping pills", "pastillas", "comprimidos", "comprimés", "schlaftabletten", "pillole",
                        "don't wake up", "nicht mehr aufzuwachen", "ne plus se réveiller", "non svegliarmi più",
                        "não acordar mais", "hurt myself", "mezelf pijn", "me corto", "farla finita",
                        "stop eating", "hide my cutting", "jump from and die"),
    # ---- cues: protective, educational or harmless context
    "protective": ("protect\\w*", "prevent\\w*", "report\\w*", "detect\\w*", "spot", "avoid",
                   "safe(?:ly)?", "warning signs", "signs (?:of|that)", "how can i tell if", "my own", "support",
                   "cope", "denuncio", "signaler", "reconnaître", "schütze", "erkenne\\w*", "protejo", "aider",
                   "dispute", "fail2ban", "two-factor", "check whether", "respond",
                   "lutter contre", "umgehen"),
    "educational": ("history", "what (?:is|are|was|were)", "why (?:did|do|does|is|are|was|shouldn't)", "how does",
                    "how did", "explain", "causes", "definition", "difference", "qué fue", "was ist",
                    "was versteht man", "warum", "comment fonctionne",
                    "cómo funcionan", "summari[sz]e", "mechanism"),
    "technical_object": ("process(?:es)?", "thread", "linux", "windows", "bash", "python", "java(?:script)?",
                         "function", "kill -9", "proceso", "processus", "prozess", "flask", "null pointer",
                         "exception", "zombie process", "smart home"),
    "harmless_object": ("photos?", "portrait", "fotos", "egg", "whites", "albumi", "weeds", "mosquitoes",
                        "chess", "elden ring", "counter-strike", "novel", "screenplay", "story", "scene", "fantasy",
                        "comedy", "time", "knuckles", "hair", "basketball", "free throw", "knife", "haiku", "recipe",
                        "movie", "marvel", "time-lapse", "lights", "roast battle", "trash"),
}


def _any(name: str) -> str:
    return r"\b(?:" + "|".join(LEXICONS[name]) + r")(?!\w)"


def _near(left: str, right: str, gap: int) -> str:
    """`left` then `right` within `gap` words (\\w matches accented letters, so this works across languages)."""
    return rf"{_any(left)}(?:\W+\w+){{0,{gap}}}?\W+{_any(right)}"


@dataclass(frozen=True, slots=True)
class Rule:
    """A harmful request recognisable from its words alone; `unless` names context that defuses it."""

    name: str
    category: str
    pattern: re.Pattern[str]
    unless: re.Pattern[str] | None = None

    def matches(self, folded: str) -> bool:
        return bool(self.pattern.search(folded)) and not (self.unless and self.unless.search(folded))


def _rule(name: str, category: str, pattern: str, unless: str | None = None) -> Rule:
    return Rule(name, category, re.compile(pattern), re.compile(unless) if unless else None)


RULES: tuple[Rule, ...] = (
    _rule("sexual content involving a minor", "sexual_minors",
          f"(?:{_near('sexual', 'child', 8)}|{_near('child', 'sexual', 8)})", unless=_any("child_protective")),
    _rule("first-person suicide or self-harm intent", "self_harm", _any("self_harm_first_person"),
          unless=_any("self_harm_defusers")),
    _rule("explosive weapon construction", "violence_weapons", _near("make", "explosive", 5),
          unless=_any("explosive_defusers")),
    _rule("chemical or biological weapon production", "dangerous_chemistry_biology", _near("make", "agent", 6)),
    _rule("malware authoring", "malware_intrusion", _near("write", "malware", 3), unless=_any("malware_defusers")),
    _rule("phishing or scam material", "fraud", _near("write", "scam_material", 4), unless=_any("scam_defusers")),
)

# Cues the classifier weighs as features (learned weights; never a verdict on their own).
_CUE_PATTERNS: dict[str, re.Pattern[str]] = {
    "harm_to_person": re.compile(_near("harm_verb", "person_target", 5)),
    **{name: re.compile(_any(name)) for name in ("covert", "mass_harm", "self_harm_means", "others_account", "illicit_gain",
                                                  "dehumanise", "protective", "educational", "technical_object",
                                                  "harmless_object")},
}
CUE_NAMES: tuple[str, ...] = tuple(_CUE_PATTERNS)


def match_rule(text: str) -> Rule | None:
    """The first unambiguous harmful-request rule the text matches, or None."""
    folded = normalise(text)
    return next((rule for rule in RULES if rule.matches(folded)), None)


def cue_vector(text: str) -> list[float]:
    """1.0 for each cue in CUE_NAMES that occurs in the text, else 0.0."""
    folded = normalise(text)
    return [1.0 if pattern.search(folded) else 0.0 for pattern in _CUE_PATTERNS.values()]


def rules_fingerprint() -> str:
    """The lexicons as text: cached classifier weights depend on the cues, so a changed word retrains."""
    return repr(sorted(LEXICONS.items()))


def unattested(lexicon: str, train_prompts: list[str]) -> list[str]:
    """Alternatives of a lexicon that match no training prompt (the test keeps this list empty)."""
    folded = [normalise(p) for p in train_prompts]
    return [alt for alt in LEXICONS[lexicon]
            if not any(re.search(r"\b(?:" + alt + r")(?!\w)", text) for text in folded)]
