"""Build and parse URL query strings by hand, for a tiny HTTP client."""


def strip_scheme(url):
    at = url.find("://")
    return url if at < 0 else url[at + 2:]


def parse_query(query):
    params = {}
    key, value, in_value = "", "", False
    for char in query:
        if char == "&":
            if key:
                params[key] = value
            key, value, in_value = "", "", False
        elif char == "=" and not in_value:
            in_value = True
        elif in_value:
            value += char
        else:
            key += char
    return params


def build_query(params, extra={}):
    extra.update(params)
    return "&".join(f"{k}={v}" for k, v in extra.items())


def split_path(path):
    parts = []
    word = ""
    for char in path:
        if char == "/":
            if word:
                parts.append(word)
            word = ""
        else:
            word += char
    if word:
        parts.append(word)
    return parts
