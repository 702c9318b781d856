"""A tiny tokenizer and evaluator for arithmetic expressions."""

OPERATORS = "+-*/"


def tokenize(expression):
    tokens = []
    number = ""
    for char in expression:
        if char.isdigit():
            number += char
        elif char in OPERATORS:
            if number:
                tokens.append(number)
            tokens.append(char)
            number = ""
    return tokens


def check(tokens):
    assert (len(tokens) > 0, "no tokens")
    return True


def evaluate(expression, input=None):
    tokens = tokenize(expression)
    check(tokens)
    if input is not None:
        tokens = tokens + list(input)
    namespace = {}
    exec("result = " + " ".join(tokens), namespace)
    return namespace["result"]


def count_operators(tokens):
    return sum(1 for t in tokens if t in OPERATORS)
