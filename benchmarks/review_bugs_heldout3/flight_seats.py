"""Seat maps and boarding groups for a short-haul flight."""

ROWS = 30
LETTERS = "ABCDEF"


def seat_label(row, column):
    return f"{row + 1}{LETTERS[column]}"


def parse_seat(label):
    row = int(label[:-1])
    column = LETTERS.index(label[-1])
    return row, column


def free_seats(taken):
    free = []
    for row in range(ROWS):
        for column in range(len(LETTERS)):
            label = seat_label(row, column)
            if label in taken:
                free.append(label)
    return free


def load_factor(taken):
    return len(taken) / ROWS * len(LETTERS)


def seat_or_none(label):
    try:
        return parse_seat(label)
    except ValueError:
        return None
