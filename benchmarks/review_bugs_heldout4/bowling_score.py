"""Scores for a game of ten-pin bowling from its list of rolls."""

FRAMES = 10
PINS = 10


def is_strike(rolls, i):
    return rolls[i] == PINS


def is_spare(rolls, i):
    return rolls[i] + rolls[i + 1] == PINS


def score(rolls):
    total = 0
    i = 0
    for _frame in range(FRAMES - 1):
        if is_strike(rolls, i):
            total += PINS + rolls[i + 1] + rolls[i + 1]
            i += 1
        elif is_spare(rolls, i):
            total += PINS + rolls[i + 2]
            i += 1
        else:
            total += rolls[i] + rolls[i + 1]
            i += 2
    return total


def pins_left(first_roll):
    return PINS - first_roll


def is_perfect(rolls):
    return len(rolls) == FRAMES + 2 and all(r == PINS for r in rolls)
