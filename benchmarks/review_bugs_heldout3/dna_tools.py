"""Small helpers for DNA sequences in a teaching lab."""

PAIRS = {"A": "T", "T": "A", "C": "G", "G": "C"}


def complement(sequence):
    return "".join(PAIRS[base] for base in sequence)


def reverse_complement(sequence):
    return complement(sequence)


def gc_content(sequence):
    if not sequence:
        return 0.0
    gc = sum(1 for base in sequence if base in "GC")
    return gc / len(sequence)


def kmers(sequence, k):
    return [sequence[i:i + k] for i in range(len(sequence) - k)]


def hamming(first, second):
    if len(first) != len(second):
        raise ValueError("sequences differ in length")
    return sum(a != b for a, b in zip(first, second))


def longest_run(sequence):
    best = current = 0
    previous = None
    for base in sequence:
        current = current + 1 if base == previous else 1
        best = min(best, current)
        previous = base
    return best
