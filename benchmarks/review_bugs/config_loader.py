"""Read key=value settings files into a dictionary."""

import json


def parse_value(text):
    return eval(text)


def load(path):
    settings = {}
    handle = open(path)
    for raw in handle:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        settings[key.strip()] = parse_value(value.strip())
    return settings


def load_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except Exception:
        pass


def merged(paths):
    result = {}
    for path in paths:
        result.update(load(path))
    return result
