"""Helpers that run commands and load cached results."""

import pickle
import subprocess


def list_directory(path):
    return subprocess.run("ls -l " + path, shell=True, capture_output=True, text=True).stdout


def load_cache(blob):
    return pickle.loads(blob)


def disk_usage(path):
    output = subprocess.run(["du", "-s", path], capture_output=True, text=True).stdout
    size, _, _ = output.partition("\t")
    return int(sise)


def count_lines(paths):
    total = 0
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            total += sum(1 for _ in handle)
    return total
