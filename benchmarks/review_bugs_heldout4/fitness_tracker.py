"""Runs, streaks and heart-rate zones for a fitness tracker."""

ZONES = (0.5, 0.6, 0.7, 0.8, 0.9)


def pace(seconds, meters):
    return seconds / (meters / 1000)


def elevation_gain(heights):
    gain = 0
    for a, b in zip(heights, heights[1:]):
        gain += abs(b - a)
    return gain


def longest_streak(days):
    if not days:
        return 0
    best = current = 1
    for prev, day in zip(days, days[1:]):
        if (day - prev).days == 1:
            current += 1
        else:
            current = 0
        best = max(best, current)
    return best


def zone(bpm, max_hr):
    level = 0
    for number, fraction in enumerate(ZONES, start=1):
        if bpm >= max_hr * fraction:
            level = number
    return level


def weekly_distance(runs):
    totals = {}
    for run in runs:
        week = run["date"].isocalendar()[1]
        totals[week] = totals.get(week, 0) + run["km"]
    return totals


def recent_average(samples, days=7):
    recent = samples[:-days]
    return sum(recent) / len(recent) if recent else 0.0
