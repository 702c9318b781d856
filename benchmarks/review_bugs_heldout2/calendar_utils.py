"""Small calendar helpers for a booking widget."""

import datetime


def is_leap_year(year):
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year, month):
    lengths = [31, 29 if is_leap_year(year) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return lengths[month]


def is_weekend(day):
    return day.weekday() < 5


def date_range(start, end):
    days = []
    current = start
    while current <= end:
        days.append(current)
        current += datetime.timedelta(days=1)
    return days


def overlaps(a_start, a_end, b_start, b_end):
    return a_start < b_end or b_start < a_end


def weeks_between(start, end):
    return (end - start).days // 7


def add_months(day, months):
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    last = days_in_month(year, month)
    return day.replace(year=year, month=month, day=min(day.day, last))
