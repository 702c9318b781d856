"""The intent router's lexicons: phrases, in ten languages, whose presence is a cheap signal for an intent.

Data only; `signals.py` compiles and counts them. Every phrase here occurs in at least one prompt of
resources/router_train.jsonl, and a test keeps it so: the lexicons are learned from the training split like the
classifier is, so the held-out split stays unseen by both. A new phrase comes with a labelled training example.
"""

from __future__ import annotations

Lexicons = dict[str, tuple[str, ...]]  # feature name -> phrases

# A trailing `*` marks a stem (inflected languages): it matches with any ending.
LEXICONS: Lexicons = {
    "code_words": (
        "python", "javascript", "js", "java", "c++", "rust", "go", "kotlin", "sql", "bash", "regex", "git", "branch",
        "docker", "dockerfile", "npm", "pip", "json", "css", "div", "react", "flask", "fastapi", "node", "express",
        "pandas", "postgres", "function", "loop", "for loop", "tuple", "dict", "string", "pointer", "keyword",
        "closure", "refactor", "unit test", "pytest", "code", "program", "script", "query", "template", "exceptions",
        "coroutines", "type hint", "virtualenv", "threads", "big o", "binary search", "quicksort", "linked list",
        "global variables", "codebase", "backend", "http request", "yield", "async/await", "undefined",
        "código", "función", "bucle", "fonction", "klasse", "fehler", "programmier*", "constante",
        "ambiente virtuale", "código em", "índice",
        "リスト", "逆順", "дубликат*", "读取",
        "c#", "abstract class", "interface", "pointers", "golang", "dependency injection", "binary search tree",
        "css grid", "flexbox", "webpack", "github actions", "node.js", "ruby", "garbage collection", "decorators",
        "useeffect", "mongodb", "postgresql", "database schema", "asynchronously", "unit tests", "palindrome",
        "diccionario", "librería", "consulta sql", "programación", "dictionnaire", "typescript", "git pull",
        "fonctions fléchées", "test unitaire", "junit", "rekursion", "c-programm", "sql-abfrage", "api",
        "array de objetos", "função", "não compila", "exceções", "ciclo for", "errore di sintassi", "funzione",
        "列表", "元组", "函数", "分支", "辞書", "ソート", "クエリ", "読み込む", "функци*", "сортировк*", "интерфейс",
        "абстрактн*", "डिक्शनरी", "कोड", "एरर",
        "shallow copy", "deep copy", "flex container", "stack", "race condition", "mutex", "recursion depth",
        "column", "commits", "media query", "hash map", "slice", "usememo", "jest", "tail recursion", "snippet",
        "generics", "list comprehension", "child process", "sockets", "rest api", "html form",
        "petición http", "clase", "array", "compréhension", "classe", "requête sql", "virtuelle umgebung",
        "palindrom", "schleife", "variável", "herança", "join", "filenotfounderror", "legge un file",
        "tupla", "query sql", "接口", "抽象类", "http 请求", "返回", "冒泡排序", "書き込む", "エラー",
        "http-запрос", "рекурси*", "sql-запрос", "компиляци*", "क्लास", "लूप", "फ़ंक्शन", "क्वेरी",
    ),
    "how_to": (
        "how do i", "how do you", "how to", "why does", "why is my", "what does", "difference between",
        "what's the difference", "is it bad practice", "what's a good way",
        "cómo", "por qué", "comment", "pourquoi", "wie kann ich", "come si", "como faço", "como resolvo",
        "如何", "方法は", "как", "कैसे",
        "what's wrong with this", "what are", "cómo se", "qué significa", "comment créer", "quelle est la différence",
        "wie erstelle ich", "was ist ein", "warum", "o que é", "como declarar", "come si legge", "qual è la differenza",
        "有什么不同", "怎么用", "違い", "とは", "что такое", "что означает",
        "how can i", "what's the idiomatic way", "should i use", "explain", "explícame", "explique-moi",
        "erklär", "comment écrire", "como tratar", "come si scrive", "怎么", "どうすれば", "教えて", "как исправить",
        "में", "क्यों",
    ),
    "percent": ("prozent", "процент*", "percentage"),
    "math_words": (
        "solve", "calculate", "derivative", "differentiate", "integrate", "limit", "probability", "mean", "median",
        "standard deviation", "sum", "factorial", "prime", "gcd", "square root", "log", "sin", "matrix",
        "eigenvalues", "fraction", "area", "perimeter", "radius", "triangle", "circle", "angles", "degrees",
        "divided by", "power of", "how much is", "how many", "convert", "prove", "simplify", "compound interest",
        "decimal", "tip", "round", "bigger", "catch up", "servings",
        "cuánto es", "resuelve", "ecuación", "velocidad media", "combien font", "calcule", "dérivée", "probabilité",
        "berechne", "wurzel", "löse", "gleichung", "quanto é", "área", "quanto fa", "diviso",
        "计算", "乘以", "等于", "平方根", "сколько будет", "लघुत्तम",
        "times", "slope", "loan", "monthly payment", "combinations", "decimal places", "interior angles",
        "ounces", "inverse", "binary", "expected value", "ratio", "convergent", "cube root", "inequality",
        "surface area", "sphere", "dot product", "divide by zero", "doubles", "variance", "how many days",
        "perímetro", "derivada", "cuántos segundos", "plus", "résous", "aire", "cercle", "racine carrée",
        "diagonales", "ableitung", "wahrscheinlichkeit", "diagonale", "vezes", "equação", "resolva",
        "volume", "probabilidade", "elevado", "calcola", "al quadrato", "解方程", "最大公约数", "打八折",
        "解いて", "面積", "合計", "реши", "уравнение", "периметр", "производн*", "घन", "छूट", "मान",
        "sum of two numbers", "trapezoid", "squared", "prime factorization", "average", "liters", "gallons",
        "percent off", "find x", "pin codes", "least common multiple", "cubed", "simple interest",
        "mode", "infinitely many primes", "edges", "area under", "arithmetic sequence", "mitad", "descuento",
        "divisé", "trouve x", "distance", "drittel", "mal", "zinsen", "quersumme", "dividido", "mínimo múltiplo",
        "per", "probabilità", "radice quadrata", "减去", "长方形", "导数", "概率", "パーセント", "時速",
        "乗", "разделить", "вычисли", "факториал", "गुणा", "क्षेत्रफल", "भाग", "हल करो",
    ),
    "doc_nouns": (
        "notes", "documents", "document", "pdf", "pdfs", "report", "contract", "thesis", "essay", "journal",
        "minutes", "transcripts", "slides", "manual", "handbook", "resume", "cv", "statements", "invoices",
        "policy", "agreement", "draft", "brief", "memo", "library", "recipe collection", "whitepaper", "email thread",
        "notas", "documentos", "contrato", "mémoire", "compte rendu", "notizen", "arbeitsvertrag", "protokoll",
        "anotações", "relatório", "appunti",
        "research paper", "privacy policy", "interview notes", "proposal", "spreadsheet", "reading notes",
        "project notes", "receipt", "report on my dog", "podcast transcript", "class notes",
        "project plan", "syllabus", "purchase agreement", "offer letters", "habit log", "product labels", "highlights",
        "style guide", "docs", "lab notebook", "feedback forms", "tesis", "apuntes", "acta", "documento",
        "grant application", "reading list", "insurance document", "meeting notes", "textbook", "license agreement",
        "contact list", "retrospective doc", "inspection report", "spanish notes", "bill pdf", "scanned receipts",
        "spec sheet", "saved articles", "meeting transcript", "case notes", "lease document", "travel notes",
        "lecture notes", "règlement intérieur", "notes de lecture", "bilan", "bedienungsanleitung",
        "vorlesungsnotizen", "projektnotizen", "angebot", "regulamento", "artigo", "note", "手册", "读书笔记",
        "讲义", "简历", "ノート", "マニュアル", "報告書", "инструкции", "заметках", "заметок", "статье", "नोट्स",
        "मैनुअल", "रिज्यूमे",
        "rapport d'audit", "contrat de travail", "présentation", "dokumenten", "masterarbeit", "kalenderexport",
        "manual do carro", "arquivos", "apostila", "ata", "tcc", "documenti", "合同", "文档", "报告", "講義ノート",
        "契約書", "документах", "протоколе", "дипломной", "दस्तावेज़ों", "रिपोर्ट",
    ),
    "uploaded": (
        "i uploaded", "i saved", "i imported", "i added", "i gave you", "i exported", "i loaded", "i put",
        "in my library", "in my documents", "in my notes", "according to my", "based on the", "according to the",
        "que j'ai importé", "que eu enviei", "上传", "私のメモ", "мои заметки", "मेरे नोट्स",
        "i scanned", "my notes", "my documents", "my docs", "que subí", "que guardé", "que importé",
        "que j'ai téléversé", "que j'ai ajouté", "que j'ai importée", "mes documents", "meinen notizen",
        "hinzugefügt", "meinen dokumenten", "importiert", "que eu salvei", "minhas notas", "meus arquivos",
        "que eu importei", "miei appunti", "ho caricato", "miei documenti", "我保存的", "我的文档", "我上传的",
        "保存した", "取り込んだ", "я загрузил", "моих документах", "मैंने जो", "मेरे दस्तावेज़ों",
        "in my files", "mes notes",
        "die ich gespeichert habe", "meine", "das ich hochgeladen habe", "minhas anotações",
        "nas minhas notas", "che ho salvato", "mie note", "我导入的", "我的读书笔记",
        "私のノート", "インポートした", "которую я сохранил", "моих заметок", "моих заметках",
        "मेरी किताब", "मेरे रिज्यूमे",
    ),
    "summarize": (
        "summarize", "summarise", "summary", "tl;dr", "key points", "action items", "main findings",
        "resume", "résume", "fass", "resuma", "riassumi", "总结", "перескажи", "кратко",
        "takeaways", "gist", "skim", "puntos clave", "synthèse", "points importants",
        "fasse", "wichtigsten punkte", "faça um resumo", "要約", "краткое содержание", "सारांश",
        "cheat sheet", "timeline", "riassunto", "まとめ", "конспект", "सार",
    ),
    "folder_words": (
        "folder", "directory", "desktop", "downloads", "home directory", "recycle bin", "usb drive",
        "carpeta", "dossier", "ordner", "pasta", "área de trabalho", "cartella", "文件夹", "デスクトップ", "फ़ोल्डर",
        "documents folder", "music directory", "hard drive", "escritorio", "descargas", "bureau", "téléchargements",
        "download-ordner", "festplatte", "桌面", "フォルダ", "папку", "рабочем столе", "डेस्कटॉप",
        "project folder", "external drive", "browser cache", "ゴミ箱", "下载文件夹",
    ),
    "action_verbs": (
        "open", "list", "run", "execute", "launch", "delete", "move", "copy", "rename", "create", "zip", "download",
        "fetch", "grab", "check", "show me", "show", "kill", "empty", "save", "sort the files", "read the file",
        "write", "get the current", "count the lines",
        "abre", "ejecuta", "ouvre", "liste", "télécharge", "lösche", "führe", "crie", "baixe", "mostre", "apri",
        "elenca", "打开", "列出", "一覧", "покажи", "दिखाओ",
        "restart", "install", "close", "turn", "archive", "search my hard drive", "find files", "crea", "muéstrame",
        "elimina", "descarga", "crée", "déplace", "exécute", "supprime", "récupère", "erstelle", "zeig", "lade",
        "verschiebe", "abra", "apague", "mova", "esegui", "scarica", "运行", "新建", "查看", "開いて",
        "実行", "確認", "создай", "открой", "скачай", "बनाओ", "चलाओ",
        "mute", "lock", "shut down", "turn on", "increase", "uninstall", "set an alarm", "eject", "clear",
        "switch to", "disconnect", "print the document", "start a timer", "update", "stop the process", "make the",
        "send the file", "silencia", "apaga", "desinstala", "coupe", "verrouille", "active", "schalte", "starte",
        "öffne", "deinstalliere", "desligue", "aumente", "ative", "spegni", "mostra", "调低", "关闭", "删除",
        "下げて", "シャットダウン", "空にして", "выключи", "удали", "сделай", "बंद करो", "खोलो", "कम करो",
        "हटाओ",
    ),
    # Asking EdgeMind to run something (action) rather than how to write it (code): decisive next to pasted code.
    "run_verbs": ("run", "execute", "launch", "ejecuta", "exécute", "esegui", "führe", "実行", "运行", "चलाओ"),
    "system_words": (
        "disk space", "battery", "cpu", "ram", "memory", "processes", "process", "ip address", "wifi", "network",
        "os version", "cpu cores", "reachable", "this computer", "this machine", "port",
        "espacio", "disco", "mémoire", "ordinateur", "akku", "processos", "диске", "места",
        "memory is free", "hostname", "usb devices", "version of python", "apps start", "volume",
        "procesos", "sistema operativo", "espace disque", "speicherplatz", "prozesse", "rechner", "sistema operacional",
        "磁盘", "メモリ", "कंप्यूटर",
        "sound", "screen", "computer", "bluetooth", "brightness", "wifi networks", "environment variables",
        "system updates", "printer", "ordenador", "computadora", "navegador", "écran", "ton", "computador", "browser",
        "音量", "电脑", "浏览器", "パソコン", "ブラウザ", "компьютер", "браузер", "звук", "ब्राउज़र", "आवाज़",
    ),
    "greeting": (
        "hi", "hello", "thanks", "good night", "how are you", "ok cool", "hola", "salut", "ça va", "olá", "tudo bem",
        "नमस्ते",
        "good morning", "bye", "bonjour", "hallo", "boa noite", "ciao", "你好", "こんにちは", "привет",
        "you're awesome", "gracias", "merci", "danke", "obrigado", "grazie", "谢谢", "ありがとう", "спасибо",
        "धन्यवाद",
    ),
    "creative": (
        "joke", "poem", "limerick", "message for", "fun fact", "roleplay", "chiste", "poema", "histoire",
        "witz", "curiosidade", "curiosità", "анекдот", "笑话",
        "short story", "thank-you note", "carta de amor", "poème", "gutenachtgeschichte", "gedicht", "piada",
        "storia", "诗", "चुटकुला",
        "interesting fact", "funny tweet", "lullaby", "rap verse", "blague", "poesia", "故事", "詩", "стихотворение",
    ),
    "advice": (
        "recommend", "suggest", "advice", "any advice", "who", "what should", "itinerary", "pros and cons",
        "tipps", "recomenda", "おすすめ", "fun things",
        "favorite", "ideas", "what do you think", "recomiendas", "consejos", "recommande", "idées",
        "sehenswürdigkeiten",
        "dicas", "benefícios", "quem", "chi", "为什么", "सुझाव",
    ),
}

# What shows that a prompt needs a tool its intent offers (core/routing/offers.py), not only that it sounds like
# one: "summarize my notes" needs docs_search, "summarize Hamlet" does not. Unlike LEXICONS these are not classifier
# features; every phrase occurs in resources/router_train.jsonl or in the dev split of tool offers
# (resources/tool_offers_dev.jsonl), never only in the held-out one, and a test keeps it so.
OFFER_CUES: Lexicons = {
    # Whose: the user's own things. CJK possessives need no space before the noun; they are in `own_docs`.
    "possessive": (
        "my", "our", "mis", "mi", "mes", "mon", "ma", "meine*", "mein", "meus", "minhas", "meu", "minha", "miei",
        "mie", "mio",
    ),
    # The user's own documents without a possessive before the noun ("the report I indexed").
    "own_docs": (
        "i uploaded", "i saved", "i imported", "i indexed", "i scanned", "i exported", "i gave you", "i wrote",
        "in my library", "in my documents", "in my notes", "my notes", "my documents", "my docs", "in my files",
        "que subí", "que guardé", "que importé", "que j'ai importé", "que j'ai téléversé", "que j'ai ajouté",
        "que eu enviei", "que eu salvei", "que eu importei", "ho caricato", "che ho salvato",
        "die ich gespeichert habe", "das ich hochgeladen habe", "hinzugefügt", "importiert",
        "上传", "我保存的", "我的文档", "我上传的", "我导入的", "我的读书笔记", "私のメモ", "私のノート", "保存した",
        "取り込んだ", "インポートした", "мои заметки", "я загрузил", "моих документах", "которую я сохранил",
        "моих заметок", "моих заметках", "मेरे नोट्स", "मैंने जो", "मेरे दस्तावेज़ों",
    ),
    # What the user did with their own documents, after "I", "I've" or "did I": "what did I write down about".
    "own_doc_verbs": (
        "wrote", "write", "write down", "note", "saved", "shared", "attached", "uploaded",
        "imported", "indexed", "scanned", "added", "loaded", "exported",
    ),
    # Documents the shared doc_nouns lack, counted in a docs prompt: "the transcript of Tuesday's call".
    "more_doc_nouns": ("transcript", "file", "doc", "attached", "lease", "slides"),
    # A known work or a subject of general knowledge, not a document of the user's: "the plot of Hamlet".
    "known_work": ("plot", "story of", "story", "book", "film", "movie", "history of",
                   "causes of", "main arguments", "by"),
    # Files and folders on this computer, after "my", "this", "that" or "the".
    "file_nouns": (
        "file", "files", "folder", "directory", "desktop", "downloads", "home directory", "hard drive",
        "usb drive", "external drive", "archivo", "carpeta", "fichier", "dossier", "datei", "ordner", "arquivo",
        "pasta", "cartella",
    ),
    # This computer's hardware and system, which system_info reports.
    "system_nouns": (
        "cpu", "cpu cores", "cores", "ram", "memory", "disk", "disk space", "battery", "os version",
        "operating system", "hostname", "computer", "laptop", "machine", "mémoire", "ordinateur", "speicher",
        "rechner", "akku", "disco", "memoria", "ordenador",
    ),
    # That the system asked about is this one: "what is my CPU", not "what is a CPU".
    "this_machine": (
        "my", "this computer", "this machine", "do i have", "am i", "i have", "mon", "ma", "mein",
        "meine*", "mi", "mio", "meu",
    ),
    # Code to run with python_run: "run" alone is a marathon, an office or the numbers.
    "code_nouns": ("python", "script", "code", "snippet", "program", "脚本", "स्क्रिप्ट"),
    # How a request opens when it asks for an answer, not an act: "List the planets", "Name the Great Lakes".
    # An action prompt that opens so and needs no tool is answered as chat; "open Spotify" stays an action.
    "answer_openings": ("list", "name", "give me", "tell me", "show me", "make a list", "write", "count", "what",
                        "who", "which", "how"),
    # A question about such things in general, not about this computer: "what does a CPU do?".
    "in_general": ("what is", "what are", "what is a", "what's a", "what does a", "what does an",
                   "explain what", "why do", "how does", "difference between", "define", "how do i", "how to",
                   "how can i"),
    # Number words: a math prompt with a quantity can use the calculator, "what is a prime number" cannot.
    "number_words": (
        "one", "two", "three", "four", "five", "six", "ten", "million", "convert",
    ),
}
