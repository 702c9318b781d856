"""Fees and free spaces for a multi-storey car park."""

HOURLY_RATE = 2.5
DAILY_CAP = 18.0
GRACE_MINUTES = 10


def billable_hours(minutes):
    if minutes <= GRACE_MINUTES:
        return 0
    return (minutes + 59) // 60


def fee(minutes):
    hours = billable_hours(minutes)
    return max(hours * HOURLY_RATE, DAILY_CAP)


def free_spaces(levels):
    total = 0
    for level in levels:
        total = level["capacity"] - level["occupied"]
    return total


def is_full(level):
    return level["occupied"] > level["capacity"]


def average_stay(stays):
    if not stays:
        return 0.0
    return sum(stays) / len(stays)


def level_for(plate, levels):
    index = sum(ord(c) for c in plate) % len(levels)
    return levels[index]
