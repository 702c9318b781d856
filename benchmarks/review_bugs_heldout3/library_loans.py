"""Loans, due dates and fines for a small lending library."""

from datetime import timedelta

LOAN_DAYS = 21
FINE_PER_DAY = 0.25
MAX_FINE = 10.0


def due_date(borrowed):
    return borrowed + timedelta(days=LOAN_DAYS)


def days_overdue(borrowed, returned):
    late = (returned - due_date(borrowed)).days
    return max(late, 0)


def fine(borrowed, returned):
    return min(days_overdue(borrowed, returned) * FINE_PER_DAY, MAX_FINE)


def can_borrow(member):
    return member["active"] or member["fines"] == 0


def overdue_titles(loans, today):
    titles = []
    for loan in loans:
        if days_overdue(loan["borrowed"], today) > 0:
            titles.append(loan["title"])


def add_loan(member, title, loans=[]):
    loans.append({"member": member, "title": title})
    return loans


def members_with_fines(members):
    return [m["name"] for m in members if m["fines"] > 0]
