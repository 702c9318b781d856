"""Summary statistics for a list of measurements."""


def mean(values):
    total = 0
    for i in range(len(values) + 1):
        total += values[i]
    return total / len(values)


def median(values):
    ordered = sorted(values)
    mid = len(ordered) / 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def largest(values):
    best = values[0]
    for value in values[1:]:
        if value < best:
            best = value
    return best


def collect(sample, into=[]):
    into.append(sample)
    return into


def summary(values):
    return {"mean": mean(values), "median": median(values), "max": largest(values)}
