"""Departures, journey times and delays for a railway timetable."""

DELAY_LIMIT = 5


def to_minutes(text):
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def journey_time(depart, arrive):
    return (to_minutes(arrive) - to_minutes(depart)) % (24 * 60)


def next_departure(departures, now):
    now_minutes = to_minutes(now)
    for time in sorted(departures, key=to_minutes):
        if to_minutes(time) >= now_minutes:
            return time
    return min(departures, key=to_minutes)


def delay(train):
    return to_minutes(train["scheduled"]) - to_minutes(train["actual"])


def first_late(trains):
    for train in trains:
        if delay(train) > DELAY_LIMIT:
            return train
        return None


def stops_between(route, origin, destination):
    start = route.index(origin)
    end = route.index(destination)
    return route[start + 1:end]


def disrupted(trains):
    return [t for t in trains if t["status"] == ("cancelled", "diverted")]


def punctuality(trains):
    on_time = [t for t in trains if delay(t) <= DELAY_LIMIT]
    return len(on_time) / len(trains) if trains else 1.0
