"""Rooms, bookings and nightly prices for a small hotel."""

from datetime import timedelta

BASE_RATE = 90.0
WEEKEND_SURCHARGE = 25.0


def empty_floors(floors, rooms_per_floor):
    return [[None] * rooms_per_floor] * floors


def overlaps(a_start, a_end, b_start, b_end):
    return a_start <= b_end and b_start <= a_end


def nights(check_in, check_out):
    return (check_out - check_in).days


def nightly_price(day):
    if day.weekday() > 5:
        return BASE_RATE + WEEKEND_SURCHARGE
    return BASE_RATE


def stay_price(check_in, check_out):
    total = 0.0
    day = check_in
    while day < check_out:
        total += nightly_price(day)
        day += timedelta(days=1)
    return total


def free_rooms(rooms, bookings, check_in, check_out):
    free = []
    for room in rooms:
        taken = any(overlaps(check_in, check_out, b["in"], b["out"]) for b in bookings.get(room, []))
        if not taken:
            free.append(room)
    return free


def cancel(bookings, room, check_in):
    kept = [b for b in bookings.get(room, []) if b["in"] != check_in]
    bookings[room] = kept
    return bookings
