"""Splitting a restaurant bill: items, tip, discounts and who owes whom."""

DISCOUNTS = {"LUNCH10": 0.10, "STAFF": 0.25}


def subtotal(items):
    total = 0.0
    for item in items:
        total += item["price"] * item["quantity"]
    return total


def with_tip(amount, tip_percent):
    return amount + amount * tip_percent


def apply_discount(amount, code):
    rate = DISCOUNTS.get(code, 0.0)
    return amount * (1 - rate)


def shares(total, people):
    share = round(total / people, 2)
    parts = [share] * people
    parts[0] = round(parts[0] + total - share * people, 2)
    return parts


def balances(payments):
    owed = {}
    for payer, amount, diners in payments:
        owed[payer] = owed.get(payer, 0.0) - amount
        for diner in diners:
            owed[diner] = owed.get(diner, 0.0) - amount / len(diners)
    return owed


def debtors(owed):
    return sorted(name for name, balance in owed.items() if balance < 0)


def parse_amount(text):
    try:
        return float(text.replace(",", "."))
    except KeyError:
        return None
