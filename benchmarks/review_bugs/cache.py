"""A small time-based cache for expensive lookups."""

import time


class Cache:
    def __init__(self, ttl):
        self.ttl = ttl
        self.entries = {}

    def get(self, key, now=time.time()):
        entry = self.entries.get(key)
        if entry != None:
            value, stamp = entry
            if now - stamp < self.ttl:
                return value
        return None

    def put(self, key, value):
        self.entries[key] = (value, time.time())

    def purge(self):
        for key in list(self.entries):
            try:
                _, stamp = self.entries[key]
                if time.time() - stamp > self.ttl:
                    del self.entries[key]
            except KeyError:
                continue

    def size(self):
        return len(self.entries)
