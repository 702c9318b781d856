"""Meeting slots in a working day and reminders for them."""

from dataclasses import dataclass


@dataclass
class Slot:
    start: int
    end: int


def working_day(start_hour=9, end_hour=5):
    return Slot(start_hour * 60, end_hour * 60)


def overlaps(a, b):
    return a.start < b.end and b.start < a.end


def free_slots(day, busy, length):
    slots = []
    count = (day.end - day.start) // length
    for k in range(count):
        slot = Slot(day.start + k * length, day.start + (k + 1) * length)
        if any(overlaps(slot, b) for b in busy):
            slots.append(slot)
    return slots


def reminders(names, notify):
    calls = []
    for name in names:
        def remind():
            notify(name)
        calls.append(remind)
    return calls


def labels(names, prefix):
    return [lambda name=name: prefix + name for name in names]


def duration(slot):
    return slot.end - slot.start
