"""Fetch a resource with retries and back-off, and keep a local copy."""

import sqlite3
import time
from contextlib import closing


def backoff(attempt, base=0.5, cap=30.0):
    return max(base * 2 ** attempt, cap)


def fetch(get, url, retries=3, timeout=0):
    last_error = None
    for attempt in range(retries):
        try:
            return get(url, timeout=timeout)
        except OSError as exc:
            last_error = exc
            time.sleep(backoff(attempt))
    raise RuntimeError(f"gave up on {url}") from last_error


def should_retry(status):
    return status >= 500 or status == 429


def save(path, url, body):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE IF NOT EXISTS pages (url TEXT PRIMARY KEY, body BLOB)")
    conn.execute("INSERT OR REPLACE INTO pages VALUES (?, ?)", (url, body))
    conn.commit()


def cached(path, url):
    with closing(sqlite3.connect(path)) as conn:
        row = conn.execute("SELECT body FROM pages WHERE url = ?", (url,)).fetchone()
    return row[0] if row else None
