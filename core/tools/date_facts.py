"""Dates and clock times a question names, as day numbers and minutes of the day a set-up can subtract: "from
October 12 to October 20" offers `october_12 = 285` and `october_20 = 293`, and `october_20 - october_12` is the span;
"starts at 9:00 and ends at 12:30" offers `time_9_00 = 540` and `time_12_30 = 750`.

Why: a small model cannot count days across a calendar ("from March 7 to March 28" became `31 - (7 + 28) / 2`), but
asked for names it writes `October_20 - October_12` by itself; the code supplies the day numbers from the calendar,
as unit_facts supplies unit factors.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|" \
         r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?:,?\s+(\d{4}))?"
_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+{_DAY}\b{_YEAR}", re.IGNORECASE)
_DAY_MONTH = re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}{_YEAR}(?!\w)", re.IGNORECASE)
_COMMON_YEAR = 2025  # no year given: a year without February 29 (a question naming that day is left alone)


@dataclass(frozen=True, slots=True)
class DateMention:
    text: str  # as the question writes it
    name: str  # the set-up's name for it: october_12, or october_12_2026 with a year
    day_number: int  # day of the year when no year is given (after the previous date: may pass 365), else ordinal
    day: int  # of the month, as written


def _month(word: str) -> int:
    word = word.lower().rstrip(".")
    return next(i for i, m in enumerate(_MONTHS, 1) if m.startswith(word[:3]))


def dates_in(question: str) -> list[DateMention]:
    """The calendar dates the question names, in order. Without years, a date earlier in the year than the one before
    it is taken in the next year ("from December 28 to January 3": 362 and 368), so later minus earlier is the span."""
    found: list[tuple[int, str, int, int, int | None]] = []
    for pattern, month_group, day_group in ((_MONTH_DAY, 1, 2), (_DAY_MONTH, 2, 1)):
        for m in pattern.finditer(question):
            year = int(m.group(3)) if m.group(3) else None
            found.append((m.start(), m.group().strip(), _month(m.group(month_group)), int(m.group(day_group)), year))
    out: list[DateMention] = []
    taken: list[tuple[int, int]] = []
    offset, last = 0, None
    for start, text, month, day, year in sorted(found):
        if any(a <= start < b for a, b in taken):
            continue
        try:
            date = dt.date(year or _COMMON_YEAR, month, day)
        except ValueError:
            continue  # "February 30", or February 29 without a year
        taken.append((start, start + len(text)))
        name = f"{_MONTHS[month - 1]}_{day}" + (f"_{year}" if year else "")
        if year:
            number = date.toordinal()
        else:
            number = date.timetuple().tm_yday + offset
            if last is not None and number < last:
                offset += 365
                number += 365
            last = number
        out.append(DateMention(text, name, number, day))
    return out


def date_facts(question: str) -> list[str]:
    """One line per date, for the set-up instruction: "october_12 = 285 (day number)"."""
    mentions = dates_in(question)
    return [f"{d.name} = {d.day_number} (day number of {d.text}; subtract two to count the days between them)"
            for d in mentions]


# "9:00", "12:30 pm", "3 p.m.", "11am"
_CLOCK = re.compile(r"(?<![\w.:])(\d{1,2}):(\d{2})(?:\s*([ap])\.?\s?m\b\.?)?|(?<![\w.:])(\d{1,2})\s*([ap])\.?\s?m\b\.?",
                    re.IGNORECASE)
MINUTES_PER_DAY = 1440


@dataclass(frozen=True, slots=True)
class TimeMention:
    text: str  # as the question writes it
    name: str  # the set-up's name for it: time_9_00, time_15_30 for "3:30 pm"
    minute: int  # of the day (after the previous time: may pass 1440, "from 10 pm to 2 am")
    hour: int  # as written (12-hour where the question says am/pm)
    past: int  # minutes past the hour


def times_in(question: str) -> list[TimeMention]:
    """The clock times the question names, in order. A time earlier in the day than the one before it is taken on
    the next day, so later minus earlier is the span."""
    out: list[TimeMention] = []
    offset, last = 0, None
    for m in _CLOCK.finditer(question):
        hour = int(m.group(1) or m.group(4))
        minute = int(m.group(2) or 0)
        half = (m.group(3) or m.group(5) or "").lower()
        if minute > 59 or hour > 23 or (half and not 1 <= hour <= 12):
            continue
        clock = hour % 12 + (12 if half == "p" else 0) if half else hour
        number = clock * 60 + minute + offset
        if last is not None and number < last:
            offset += MINUTES_PER_DAY
            number += MINUTES_PER_DAY
        last = number
        out.append(TimeMention(m.group().strip(), f"time_{clock}_{minute:02d}", number, hour, minute))
    return out


def time_facts(question: str) -> list[str]:
    """One line per clock time, for the set-up instruction: "time_9_00 = 540 (minute of the day of 9:00)"."""
    return [f"{t.name} = {t.minute} (minute of the day of {t.text}; subtract two to count the minutes between them)"
            for t in times_in(question)]


def without_dates(question: str) -> str:
    """The question with its dates and clock times taken out: their day, year, hour and minute numbers are not
    quantities a set-up must use (the dates and times as a whole are)."""
    for d in dates_in(question):
        question = question.replace(d.text, " ")
    for t in times_in(question):
        question = question.replace(t.text, " ")
    return question


def named_date(name: str, question: str) -> int | None:
    """The day number (`October_12`) or minute of the day (`time_9_00`) a set-up's name stands for, when the
    question names that date or time."""
    key = name.lower()
    found = next((d.day_number for d in dates_in(question) if d.name == key), None)
    return found if found is not None else next((t.minute for t in times_in(question) if t.name == key), None)
