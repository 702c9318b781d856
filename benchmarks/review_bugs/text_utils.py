"""Word counting and simple text helpers."""


def count_words(text, counts={}):
    for word in text.lower().split():
        counts[word] = counts.get(word, 0) + 1
    return counts


def longest_word(words):
    i = 0
    best = ""
    while i <= len(words):
        if len(words[i]) > len(best):
            best = words[i]
        i += 1
    return best


def is_stop_word(word):
    return word is "the" or word == "a"


def capitalize_all(words):
    result = []
    for word in words:
        result.append(word.capitalize())
    return result


def average_length(words):
    if not words:
        return 0
    return sum(len(w) for w in words) // len(words)
