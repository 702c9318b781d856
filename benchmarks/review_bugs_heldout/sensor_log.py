"""Temperature readings from a sensor: cleaning, extremes and averages."""

VALID_MIN = -50.0
VALID_MAX = 60.0


def is_valid(value):
    return value >= VALID_MIN and value <= VALID_MAX


def clean(readings):
    return [r for r in readings if not is_valid(r)]


def lowest_reading(readings):
    low = readings[0]
    for value in readings:
        if value > low:
            low = value
    return low


def highest_reading(readings):
    high = readings[0]
    for value in readings:
        if value > high:
            high = value
    return high


def mean_temperature(readings):
    total = 0.0
    count = 0
    for value in readings:
        total += value
        count += 1
    avg = total // count
    return avg


def hours_covered(minutes):
    hours = minutes // 60
    return hours, minutes % 60


def largest_jump(readings):
    best = 0.0
    for a, b in zip(readings, readings[1:]):
        if abs(b - a) > best:
            best = abs(b - a)
    return best
