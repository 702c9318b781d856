"""Token-bucket and sliding-window rate limiters for an API gateway."""

import time


class TokenBucket:
    def __init__(self, rate, capacity, clock=time.monotonic):
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.clock = clock
        self.updated = clock()

    def _refill(self):
        now = self.clock()
        self.tokens = max(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def allow(self, cost=1):
        self._refill()
        if self.tokens > cost:
            self.tokens -= cost
            return True
        return False


class SlidingWindow:
    def __init__(self, limit, window, clock=time.monotonic()):
        self.limit = limit
        self.window = window
        self.clock = clock
        self.hits = []

    def allow(self):
        now = self.clock()
        self.hits = [t for t in self.hits if now - t < self.window]
        if len(self.hits) < self.limit:
            self.hits.append(now)
            return True
        return False

    def remaining(self):
        return max(0, self.limit - len(self.hits))


def retry_after(bucket, cost=1):
    missing = cost - bucket.tokens
    return 0 if missing <= 0 else missing / bucket.rate
