"""Hand-written text rules for the safety check: a few unambiguous harmful requests that are refused outright, and
named cues (harmful intent, protective or harmless context) and multilingual concepts that the classifier weighs as
features.

A rule must stay high-precision: a pattern that could match a harmless prompt belongs in a cue, not a rule.
Every alternative in LEXICONS occurs in at least one prompt of the training files (checker.TRAIN_FILES; a test checks
it), so the blind split stays unseen by the rules as it is by the classifier; a new word comes with a training example.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .classifier import normalise

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
    "child_protective": ("report\\w*", "prosecut\\w*", "statute", "treat(?:y|ies)", "protect\\w*", "safe\\w*", "signs",
                         "educat\\w*", "talk to", "explain", "puberty",
                         "consent", "signaler", "schütze", "parental", "training", "cybertipline", "age of consent",
                         "protejo", "protéger", "proteggo", "proteger", "bescherm", "denuncio", "melde", "grooming"),
    "self_harm_first_person": (
        "kill myself", "killing myself", "end my life", "suicide (?:method|note)",
        "cut myself(?! off| a (?:slice|piece|bit))", "my self-harm",
        "to overdose", "to not wake up", "don't want to be alive", "suicidarme", "quiero morir",
        "mettre fin à mes jours", "me faire du mal", "mich umbringen", "nicht mehr leben", "me matar",
        "starve myself", "walk me through how to do it", "take my life", "quitarme la vida", "en finir",
        "mir das leben nehmen", "togliermi la vita", "tirar minha própria vida", "me tuer", "ich möchte sterben",
        "ik wil niet meer leven", "acabar con todo", "ready to end it", "to die without pain", "nie chcę już żyć",
        "odebrać sobie życie", "się zabić", "ze sobą skończyć"),
    # Someone else's words reported by a friend are a request for help, not intent: "mein Freund will nicht mehr leben".
    "self_harm_defusers": ("friend", "support", "history", "hotlines?", "warning signs", "freund\\w*", "vriend\\w*",
                           "amig[oa]s?", "amic[oa]", "przyjaci\\w*", "amie?", "don't cut myself",
                           "at the gym", "overtrain\\w*"),
    # ---- cues: harmful intent
    "harm_verb": ("umbringen", "töten", "vergifte\\w*", "vermoord\\w*", "avvelenare", "envenenar", "blesser",
                  "verletzen", "verprügle", "beat", "drug", "ambush", "burn down", "hide a body", "frapper", "atirar",
                  "kill", "murder", "poison", "stab", "shoot", "hurt", "strangle", "attack", "matar", "tuer",
                  "empoisonner", "erschiessen", "harass\\w*", "take out", "threatening"),
    "person_target": ("my (?:boss|stepson|stepfather's|sister's husband)", "mi suegra", "mio marito", "mijn buurman",
                      "meinen chef", "meine frau", "den hund meines nachbarn", "some(?:one|body)", "people", "her",
                      "them", "my (?:wife|husband|neighbou?r|coworker|ex)",
                      "crowd", "alguien", "gente", "quelqu'un", "jemanden", "mon voisin", "classmate", "he", "she"),
    "covert": ("sans laisser de traces", "ohne dass", "sem ser pego", "sin que", "zonder dat", "senza che",
               "without (?:him|her|them) knowing", "without being noticed", "never finds?", "don't show",
               "sin su contraseña", "without her password",
               "without (?:getting caught|anyone|her|him|knowing|being traced|leaving)", "untraceable", "secretly",
               "won't show up", "sin dejar", "sans que", "heimlich", "looks? like natural causes", "sneak"),
    "mass_harm": ("as many people", "crowd", "subway", "pandemic", "mucha gente", "kill the most", "school",
                  "concert", "power grid"),
    "others_account": ("de mi jefe", "de mi ex", "van mijn baas", "di un'altra persona", "de outra pessoa",
                       "my roommate's", "my neighbour's", "my girlfriend's", "meiner ex-freundin", "someone else's",
                       "my ex's", "my wife's",
                       "my girlfriend's", "i don't own", "de otra persona", "meines chefs", "meiner freundin",
                       "mon mari", "customers'", "ex-girlfriend's"),
    "illicit_gain": ("falsifi\\w*", "estafar", "escroquer", "truffare", "golpe", "wasche", "refunds", "fake fine",
                     "fake doctor's note", "twice for the same", "stolen", "launder", "counterfeit", "forge",
                     "embezzle", "ponzi scheme that", "blanchir",
                     "falsificar", "fälsche", "clonar", "betrug\\w*", "keep the money", "harvest"),
    "dehumanise": ("vermin", "ungeziefer", "ongedierte", "stupid", "burden", "ladrones", "keine menschen",
                   "genetically less intelligent", "less intelligent", "rassistische witze", "blagues racistes",
                   "subhuman", "inferior", "worthless", "terrorists", "slurs", "insults", "racist jokes",
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
    # ---- the benign-intent stage (`benign_frame`): framings under which most refused benign dev prompts were asked.
    # Session 30 read why benign prompts of the seen splits were refused (out-of-fold scores of --cv): most asked what
    # to do as the one at risk or how to protect someone ("what should I do", "how do I report", "which settings block
    # strangers"), asked about symptoms, treatment or history, or used a violent word as a figure of speech ("I'm
    # dying to", "slay the judges", "bleed the radiators"). Each alternative comes from such a seen prompt.
    "benign_intent": (
        "what (?:should|can|do) (?:i|we) do", "what steps", "where do i start", "get help",
        "how (?:do|can|should) (?:i|we) (?:report|protect|warn|stop|block|spot|recogni[sz]e|tell if|know if|check|"
        "document|prevent|step in|help|talk to|teach|explain|show)",
        "legally", "settings", "teach (?:my |our |the )?(?:kids?|children|child|son|daughter|twins|students?)",
        "talk to my", "without scaring", "protect\\w*", "pickpocket-proof", "pirate-proof", "warning signs",
        "symptoms", "treated", "affects? the (?:human )?body", "what happened", "statistics",
        "i'm studying", "qué hago", "qué hacer", "síntomas", "se trata", "que faire", "que dois-je faire",
        "à qui je m'adresse", "quels réglages", "comment parler", "was soll ich", "ab welchem alter",
        "come faccio a scoprire", "hoe leg ik", "jak zabezpieczyć",
        # session 32, read off the benign prompts of session 30's split refused on leave-one-split-out scores: the one
        # at risk checking ("is this email real", "someone might have hidden"), the law, treatment, a word's origin
        "is (?:this|it|that) (?:\\w+ ){0,3}(?:real|legit|genuine)", "(?:someone|somebody) (?:might|may|could) have",
        "hidden in my", "strafen", "treatment for", "survivors?",
        "where does (?:the )?(?:\\w+ )?(?:word|term|slur|phrase|expression)"),
    "figurative": (
        "killed me", "could die", "dying to", "i'm dying", "slay", "absolutely (?:kill|murder)",
        "bomb (?:a |an |the |my )?(?:\\w+ )?(?:exam|test)", "beat or fold", "cheat (?:death|on my diet)",
        "bleed the radiators", "cut myself off", "matar (?:las horas|a fome)", "tuer une tâche", "zombie cocktail",
        "boss fight"),
}


# Concepts: one idea in the eight languages of the training split (en, es, fr, de, it, pt, nl, pl), each a feature of
# its own. MiniLM reads English only and hashed n-grams learn a word only from prompts in its language, so without
# these a request in Polish learns nothing from the English ones about "poison" or "without her knowing". They are
# weighed by the classifier like the cues, never a verdict; every alternative occurs in a training prompt (tested).
CONCEPTS: dict[str, tuple[str, ...]] = {
    "kill": ("kill\\w*", "murder\\w*", "matar", "mato", "tuer", "tué\\w*", "töte\\w*", "töten", "umbring\\w*",
        "uccid\\w*", "ammazz\\w*", "assassin\\w*", "vermoord\\w*", "zabi\\w*", "zabój\\w*"),
    "poison": ("poison\\w*", "venen\\w*", "envenen\\w*", "poison", "empoisonn\\w*", "vergift\\w*", "velen\\w*",
        "avvelen\\w*", "veneno", "gif", "vergif\\w*", "trucizn\\w*", "otru\\w*", "toxin\\w*", "tóxic\\w*", "gift",
        "giftig\\w*"),
    "explosive": ("bomb\\w*", "explosi\\w*", "esplosiv\\w*", "sprengs\\w*", "spreng\\w*", "ordign\\w*",
        "wybuch\\w*", "ładun\\w*", "molotov\\w*", "mołotow\\w*", "grenade\\w*"),
    "gun": ("guns?", "pistol\\w*", "rifle\\w*", "firearm\\w*", "arma", "armas", "arme", "armes", "waffe\\w*",
        "fucil\\w*", "vuurwapen\\w*", "broń", "broni", "karabin\\w*", "pistolet\\w*", "shoot\\w*", "disparar",
        "schie\\w*", "atirar", "zastrzel\\w*"),
    "knife": ("knife", "stab\\w*", "cuchill\\w*", "apuñal\\w*", "couteau\\w*", "messer\\w*", "zustech\\w*",
        "coltell\\w*", "accoltell\\w*", "faca\\w*", "esfaque\\w*", "neergestoken", "noż\\w*", "dźgn\\w*"),
    "beat": ("beat\\w*", "hit", "punch\\w*", "break his", "golpe\\w*", "pegar\\w*", "frapp\\w*", "bater", "slaan",
        "in elkaar slaan", "pobi\\w*", "uderz\\w*", "strangl\\w*", "estrangul\\w*", "erwürg\\w*", "strangol\\w*",
        "wurg\\w*", "udusi\\w*"),
    "arson": ("set fire", "burn down", "incendi\\w*", "brand\\w*", "fuoco", "fogo", "in brand", "podpal\\w*"),
    "threaten": ("threat\\w*", "scare", "amenaz\\w*", "menac\\w*", "intimid\\w*", "droh\\w*", "ameaç\\w*",
        "dreig\\w*", "pogróż\\w*", "zastrasz\\w*"),
    "kidnap": ("kidnap\\w*", "secuestr\\w*", "entführ\\w*", "rapi\\w*", "sequestr\\w*", "ontvoer\\w*", "porw\\w*"),
    "covert": ("secret\\w*", "without (?:him|her|them|anyone|being|getting)", "untraceable", "a escondidas",
        "sin que", "sin dejar", "en cachette", "sans que", "heimlich\\w*", "ohne dass", "senza che", "escondid\\w*",
        "sem que", "sem ser", "sem ela", "stiekem", "zonder dat", "żeby nikt", "bez jej wiedzy",
        "żeby nie wiedział\\w*", "żeby się nie"),
    "untraceable": ("trace\\w*", "autopsy", "autopsia", "autopsie", "obdu\\w*", "lijkschouwing", "sekcj\\w*",
        "detect\\w*", "rastro", "spuren", "sporen", "ślady", "natural causes", "accident\\w*", "incident\\w*",
        "ongeluk\\w*", "wypad\\w*", "acidente"),
    "partner": ("wife", "husband", "girlfriend", "boyfriend", "ex", "ex's", "esposa", "mujer", "marido", "novi[ao]",
        "femme", "mari", "copine", "frau", "mann\\w*", "freundin", "moglie", "marito", "ragazza", "namorad[ao]",
        "vrouw", "vriendin", "żon\\w*", "męż\\w*", "dziewczyn\\w*", "byłej", "byłego", "były"),
    "neighbour": ("neighbou?r\\w*", "vecin\\w*", "voisin\\w*", "nachbar\\w*", "vicin\\w*", "vizinh\\w*",
        "bur(?:en|man|vrouw)\\w*", "sąsiad\\w*", "coworker\\w*", "boss", "jefe", "patron", "chef\\w*", "capo",
        "chefe", "baas", "szef\\w*", "landlord", "casero", "propriétaire", "vermieter", "padrone", "senhorio"),
    "child": ("child\\w*", "kids?", "minors?", "teen\\w*", "girl", "niñ[oa]s?", "menor\\w*", "enfant\\w*", "fille",
        "mädchen", "jung\\w*", "bambin\\w*", "ragazzin\\w*", "crian\\w*", "menin[oa]", "meisje", "jongen",
        "dzie\\w*", "dziewczyn\\w*",
        "\\d{1,2}[- ]?(?:year|años|anni|jahre|jährig\\w*|jaar|anos|ans|lat|letni\\w*)"),
    "sexual": ("sex\\w*", "nude\\w*", "naked", "explicit", "erotic\\w*", "desnud\\w*", "nue", "nues", "nackt\\w*",
        "nud[oaei]", "nuas", "naakt\\w*", "nag\\w*", "seks\\w*", "erot\\w*", "intim\\w*", "íntim\\w*", "bedroom",
        "romantic", "romantic\\w*"),
    "groom": ("trust me", "meet", "alone", "confíe", "confianza", "confiance", "vertrau\\w*", "fid[ia]\\w*",
        "confiar", "zaufa\\w*", "geheim\\w*", "secret", "incontr\\w*", "encontr\\w*", "umówi\\w*"),
    "hack": ("hack\\w*", "crack\\w*", "break into", "pirat\\w*", "hacke\\w*", "knack\\w*", "buco", "invad\\w*",
        "hackear", "włam\\w*", "zhakow\\w*", "przejąć", "get into", "log into", "get back in", "entrer", "entro"),
    "account": ("account\\w*", "password\\w*", "login\\w*", "cuenta\\w*", "contraseña\\w*", "compte\\w*",
        "mot de passe", "konto\\w*", "passw\\w*", "account", "senha\\w*", "conta", "wachtwoord\\w*", "hasł\\w*",
        "kont\\w*", "e-?mail\\w*", "gmail", "icloud", "instagram", "facebook", "snapchat", "whatsapp", "wi-?fi",
        "wlan"),
    "malware": ("malware", "ransomware", "keylogger\\w*", "spyware", "virus", "trojan\\w*", "botnet", "ddos",
        "rançon\\w*", "lösegeld", "okup\\w*", "steals?", "roube", "rubi", "stiehlt", "steelt", "kradnie", "robe"),
    "take_down": ("take down", "knock\\w* .* offline", "offline", "tumb\\w*", "faire tomber", "lahm\\w*",
        "derrub\\w*", "plat", "wyłącz\\w*", "mando offline"),
    "fake": ("fake\\w*", "forg\\w*", "counterfeit\\w*", "falsific\\w*", "falso", "falsa", "falsos", "faux",
        "fausse\\w*", "falsifi\\w*", "fälsch\\w*", "gefälscht\\w*", "falsch\\w*", "fals[oaie]", "falsificar",
        "nep\\w*", "vals\\w*", "fałszyw\\w*", "podrob\\w*"),
    "money": ("money", "cash", "bank\\w*", "card\\w*", "dinero", "banco", "tarjeta\\w*", "argent", "banque\\w*",
        "carte\\w*", "geld\\w*", "karte\\w*", "soldi", "banca", "carta", "dinheiro", "cartão", "cartao", "pix",
        "pieniądz\\w*", "kart\\w*", "euro\\w*", "pension\\w*", "pensión", "retraite", "rente", "pensione",
        "aposentadoria", "emerytur\\w*", "aow", "refund\\w*", "loan\\w*", "kredyt\\w*", "kredit\\w*", "crédit\\w*",
        "préstamo"),
    "defraud": ("scam\\w*", "fraud\\w*", "launder\\w*", "estaf\\w*", "escroqu\\w*", "arnaqu\\w*", "blanchi\\w*",
        "betr\\w*", "wasch\\w*", "truff\\w*", "ricicl\\w*", "golpe\\w*", "lav[oa]r?", "oplicht\\w*", "oszu\\w*",
        "wyprać", "pran\\w*", "phishing\\w*", "trick\\w*", "enganar"),
    "address": ("address\\w*", "where (?:she|he|they) li\\w+", "dirección", "dónde vive", "adresse\\w*",
        "où (?:il|elle) habite", "wohnadresse", "privatadresse", "indirizz\\w*", "endereço\\w*",
        "onde (?:ela|ele) mora", "adres\\w*", "huisadres", "adres domowy"),
    "locate": ("track\\w*", "locat\\w*", "find out", "gps", "airtag", "rastre\\w*", "localiz\\w*", "averigu\\w*",
        "suivre", "géolocalis\\w*", "orten", "scopr\\w*", "descobr\\w*", "descubr\\w*", "volg\\w*", "namierz\\w*",
        "śledz\\w*", "lokaliz\\w*", "znajdź", "find"),
    "expose": ("dox\\w*", "publish", "post (?:it|their|his|her)", "publica\\w*", "publie\\w*", "veröffentlich\\w*",
        "pubblic\\w*", "publique\\w*", "zet .* online", "opublikuj\\w*", "unmask\\w*", "real name", "echten namen"),
    "group": ("jews?", "jewish", "muslims?", "immigrants?", "black (?:people|men|women)", "gays?",
        "trans (?:people|women|men)", "roma", "gypsies", "asians?", "mexicans?", "disabled", "judí\\w*",
        "musulman\\w*", "inmigrant\\w*", "negros?", "gitan\\w*", "homosexual\\w*", "juifs?", "noirs?",
        "handicap\\w*", "juden", "muslim\\w*", "flüchtling\\w*", "ausländer\\w*", "schwul\\w*", "schwarz\\w*",
        "behindert\\w*", "türk\\w*", "ebre\\w*", "immigrat\\w*", "neri", "disabili", "rom", "judeu\\w*",
        "muçulman\\w*", "imigrant\\w*", "deficientes", "nordestin\\w*", "joden", "moslim\\w*", "vluchteling\\w*",
        "homo's", "zwarte\\w*", "gehandicapt\\w*", "turken", "żyd\\w*", "muzułm\\w*", "uchodźc\\w*", "imigrant\\w*",
        "gej\\w*", "czarn\\w*", "romów", "niepełnosprawn\\w*", "women", "mujeres", "donne", "mulheres", "vrouwen",
        "kobiety"),
    "demean": ("vermin", "parasit\\w*", "subhuman", "inferior\\w*", "rats?", "dogs", "freaks?", "stupid", "burden",
        "worthless", "insults?", "slurs?", "racist jokes", "plaga", "ladrones", "inferiores", "insultos", "chistes",
        "parasites", "inférieur\\w*", "blagues", "insult\\w*", "ungeziefer", "parasiten", "keine menschen", "witze",
        "animali", "inutili", "insulti", "barzellette", "parasitas", "piadas", "burr[oa]s", "ongedierte", "grappen",
        "scheldwoorden", "ratten", "robactw\\w*", "dowcip\\w*", "obelg\\w*", "bezużyteczn\\w*", "głup\\w*",
        "terrorists?", "ciężar\\w*"),
    "cleanse": ("cleans\\w*", "expel\\w*", "deport\\w*", "get rid of", "sterilis\\w*", "steriliz\\w*", "limpi\\w*",
        "expuls\\w*", "eliminar\\w*", "esteriliz\\w*", "nettoie\\w*", "chasser", "éliminer", "stérilis\\w*",
        "säuber\\w*", "raus", "sterilisier\\w*", "ripulisc\\w*", "cacciare", "sterilizz\\w*", "limpa\\w*",
        "zuiver\\w*", "wyrzuci\\w*", "przegna\\w*"),
    "suicide": ("suicid\\w*", "kill myself", "end my life", "end it", "take my life", "die", "dying", "suicidarme",
        "morir\\w*", "quitarme la vida", "acabar con todo", "me tuer", "en finir", "mettre fin", "selbstmord\\w*",
        "suizid\\w*", "sterben", "mich umbringen", "leben nehmen", "suicid\\w*", "morire", "togliermi la vita",
        "farla finita", "me matar", "morrer", "tirar minha", "acabar com tudo", "zelfmoord\\w*", "dood", "einde",
        "samobój\\w*", "się zabić", "odebrać sobie życie", "skończyć", "zakończyć", "sumir", "disparaître",
        "verschwinden", "sparire", "desaparec\\w*", "zniknąć", "niet meer", "non svegliarmi",
        "nicht mehr aufzuwachen", "not wake up", "don't wake up", "não acordar", "nie obudzić", "się nie obudzić"),
    "self_injure": ("cut myself", "hurt myself", "self-harm", "scars?", "bleed\\w*", "cortarme", "me corto",
        "cicatri\\w*", "me couper", "scarifier", "me faire du mal", "ritzen", "narben", "verletzen", "tagliarmi",
        "farmi del male", "cortar\\w*", "me machucar", "snij\\w*", "littekens", "pijn doen", "ciąć", "blizn\\w*",
        "verblut\\w*", "pulsader\\w*"),
    "means": ("pills?", "tablets?", "overdose\\w*", "lethal dose", "insulin\\w*", "bridge", "jump\\w*", "roof",
        "medication\\w*", "pastillas", "comprimid\\w*", "puente", "saltar", "comprimés", "médicaments", "pont",
        "sauter", "tabletten", "überdosis", "springen", "pillole", "farmaci", "ponte", "saltare", "remédio\\w*",
        "pular", "pillen", "overdosis", "brug", "medicijn\\w*", "tabletek", "leki", "most\\w*", "skoczy\\w*",
        "przedawkow\\w*", "insulin\\w*", "insulina", "insuline"),
    "starve": ("starve\\w*", "stop eating", "purge", "calories", "smettere di mangiare", "przestać jeść"),
    "drug": ("meth\\w*", "mdma", "xtc", "ghb", "fentanyl", "heroin", "metanfetamin\\w*", "metamfetamin\\w*",
        "crystal", "mushrooms?", "funghi"),
    "pathogen": ("anthrax", "botul\\w*", "ricin\\w*", "rizin", "ricina", "rycyn\\w*", "sarin",
        "nerve (?:agent|gas)", "nervengas", "zenuwgas", "gaz paraliż\\w*", "pathogen\\w*", "virus\\w*",
        "bacteri\\w*", "bakteri\\w*", "milzbrand\\w*", "wąglik\\w*", "antraz", "gas", "gaz\\w*"),
    "produce": ("make", "making", "build", "produce", "synthesi[sz]e", "cook", "grow", "culture", "extract",
        "hacer", "hago", "fabricar", "cultivar", "fabriqu\\w*", "synthétis\\w*", "faire", "baue", "koche",
        "mache\\w*", "gewinn\\w*", "vermehr\\w*", "fare", "faccio", "costrui\\w*", "monto", "ricava", "coltiv\\w*",
        "fazer", "faço", "produzir", "montar", "maak", "maken", "bouw\\w*", "kweek\\w*", "zrobić", "zbudować",
        "wyprodukować", "wyhodować"),
    "protective": ("protect\\w*", "prevent\\w*", "report\\w*", "safe\\w*", "signs?", "warn\\w*", "recogni[sz]e",
        "spot", "detect\\w*", "proteg\\w*", "denunci\\w*", "señales", "reconn\\w*", "signal\\w*", "protég\\w*",
        "schütz\\w*", "meld\\w*", "erkenn\\w*", "warn\\w*", "sicher\\w*", "protegg\\w*", "segnal\\w*",
        "riconosc\\w*", "sicur\\w*", "sinais", "reconhe\\w*", "segur\\w*", "bescherm\\w*", "herken\\w*",
        "veilig\\w*", "chroni\\w*", "zgłos\\w*", "zgłosić", "rozpozna\\w*", "bezpieczn\\w*", "sygnał\\w*", "oznaki",
        "check", "verify", "verific\\w*", "sprawdz\\w*", "controll\\w*", "controle\\w*"),
    "help_other": ("friend", "help (?:a|my|him|her)", "support\\w*", "amig[oa]", "ayud\\w*", "apoy\\w*", "ami",
        "aider", "freund\\w*", "helfen", "helfe", "unterstütz\\w*", "amic[oa]", "aiut\\w*", "ajud\\w*",
        "vriend\\w*", "help\\w*", "przyjaci\\w*", "kolega", "pomóc", "therap\\w*", "doctor", "huisarts"),
    "own": ("my own", "myself", "about me", "my data", "mis datos", "mi propi\\w*", "mes données", "mon propre",
        "meine daten", "mein eigen\\w*", "über mich", "miei dati", "meu próprio", "minha própria", "mijn eigen",
        "mijn gegevens", "moje dane", "swój", "swoich", "własn\\w*"),
    "fiction": ("story", "novel", "scene", "screenplay", "character", "movie", "film", "poem", "cuento", "poema",
        "histoire", "roman", "scène", "poème", "geschichte", "romanfigur", "gedicht", "krimi\\w*", "racconto",
        "scena", "personaggio", "giallo", "conto", "personagem", "cena", "verhaal", "scène", "personage", "gedicht",
        "opowiadani\\w*", "powieś\\w*", "scen\\w*", "postać", "wiersz"),
    "history": ("history", "historical", "what (?:is|are|was|were)", "why", "explain", "historia", "qué es",
        "qué fue", "por qué", "histoire", "qu'est-ce", "pourquoi", "geschichte", "was ist", "was war", "warum",
        "storia", "che cos", "perché", "história", "o que é", "o que foi", "por que", "wat is", "wat was", "waarom",
        "histori\\w*", "czym", "dlaczego"),
    "technical": ("process\\w*", "linux", "windows", "server", "port", "task manager", "proceso", "processus",
        "prozess\\w*", "processo", "proces\\w*", "menedżer\\w*"),
    "public_office": ("mayor", "council", "office", "embassy", "senator", "parliament", "ayuntamiento",
        "diputad\\w*", "comisaría", "mairie", "préfecture", "député", "permanence", "bürgerbüro", "municipio",
        "comune", "deputato", "ufficio", "prefeitura", "deputado", "gabinete", "gemeentehuis", "gemeente",
        "kamerlid", "urzęd\\w*", "pos\\w*ł\\w*", "biur\\w*", "registered office", "handelsregister", "kvk",
        "business", "company", "empresa", "entreprise", "firma", "bedrijf"),
    "pretend": ("pretend\\w*", "roleplay", "role-play", "you are a", "you're a", "hypothetical\\w*",
        "hipotétic\\w*", "haz de", "fais comme", "en théorie", "spiel einen", "hypothetisch", "fai finta",
        "in teoria", "finja", "hipotetic\\w*", "doe alsof", "stel dat", "udawaj", "for a story"),
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
    **{name: re.compile(_any(name)) for name in ("covert", "mass_harm", "self_harm_means", "others_account",
                                                  "illicit_gain", "dehumanise", "protective", "educational",
                                                  "technical_object", "harmless_object")},
}
CUE_NAMES: tuple[str, ...] = tuple(_CUE_PATTERNS)
_CONCEPT_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(r"\b(?:" + "|".join(alternatives) + r")(?!\w)") for alternatives in CONCEPTS.values())


# The benign-intent stage: a text framed as protection, help-seeking, study or a figure of speech, with none of the
# harmful-intent cues below, gets the policy's `[benign_frame] threshold_shift` on its input threshold. The harmful
# cues keep "how do I protect myself while I poison her" and "what should I do so nobody finds out" out of it.
_BENIGN_FRAME = re.compile(r"\b(?:" + "|".join(LEXICONS["benign_intent"] + LEXICONS["figurative"]) + r")(?!\w)")
HARMFUL_INTENT_CUES = ("harm_to_person", "covert", "mass_harm", "self_harm_means", "others_account", "illicit_gain",
                       "dehumanise")


def benign_frame(text: str) -> bool:
    """True when the text is framed as protective, help-seeking, educational or figurative and carries no cue of
    harmful intent (see HARMFUL_INTENT_CUES)."""
    folded = normalise(text)
    if not _BENIGN_FRAME.search(folded):
        return False
    return not any(_CUE_PATTERNS[name].search(folded) for name in HARMFUL_INTENT_CUES)


def match_rule(text: str) -> Rule | None:
    """The first unambiguous harmful-request rule the text matches, or None."""
    folded = normalise(text)
    return next((rule for rule in RULES if rule.matches(folded)), None)


def cue_vector(text: str) -> list[float]:
    """1.0 for each cue in CUE_NAMES that occurs in the text, else 0.0."""
    folded = normalise(text)
    return [1.0 if pattern.search(folded) else 0.0 for pattern in _CUE_PATTERNS.values()]


def concept_vector(text: str) -> list[float]:
    """1.0 for each concept in CONCEPTS that occurs in the text, else 0.0."""
    folded = normalise(text)
    return [1.0 if pattern.search(folded) else 0.0 for pattern in _CONCEPT_PATTERNS]


def rules_fingerprint() -> str:
    """The lexicons and concepts as text: cached classifier weights depend on them, so a changed word retrains."""
    return repr(sorted(LEXICONS.items())) + repr(sorted(CONCEPTS.items()))


def unattested(lexicon: str, train_prompts: list[str]) -> list[str]:
    """Alternatives of a lexicon or concept that match no training prompt (the test keeps this list empty)."""
    folded = [normalise(p) for p in train_prompts]
    return [alt for alt in (LEXICONS[lexicon] if lexicon in LEXICONS else CONCEPTS[lexicon])
            if not any(re.search(r"\b(?:" + alt + r")(?!\w)", text) for text in folded)]
