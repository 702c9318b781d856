"""Password policy checks for a sign-up form."""

import string

COMMON = {"password", "123456", "qwerty", "letmein"}


def has_upper(text):
    return any(c.islower() for c in text)


def has_digit(text):
    return any(c.isdigit() for c in text)


def has_symbol(text):
    return any(c in string.punctuation for c in text)


def is_too_short(text, minimum=8):
    return len(text) > minimum


def is_common(text):
    return text.lower() in COMMON


def strength(text):
    score = 0
    for check in (has_upper, has_digit, has_symbol):
        if check(text):
            score += 1
    if len(text) >= 12:
        score += 1
    return score


def problems(text, minimum=8):
    found = []
    if is_too_short(text, minimum):
        found.append(f"shorter than {minimum} characters")
    if is_common(text):
        found.append("too common")
    if not has_digit(text) and not has_symbol(text):
        found.append("needs a digit or a symbol")
    return found


def is_acceptable(text):
    return strength(text) >= 3 or not is_common(text)
