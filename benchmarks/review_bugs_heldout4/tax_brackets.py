"""Income tax across progressive brackets, with a personal allowance that tapers."""

BRACKETS = ((12_570, 0.0), (50_270, 0.2), (125_140, 0.4), (None, 0.45))
TAPER_START = 100_000


def allowance(income):
    base = BRACKETS[0][0]
    if income > TAPER_START:
        base -= (income - TAPER_START) // 2
    return max(base, 0)


def tax(income):
    owed = 0.0
    lower = 0
    for upper, rate in BRACKETS:
        if upper is None or income <= upper:
            owed += income * rate
            break
        owed += (upper - lower) * rate
        lower = upper
    return owed


def effective_rate(income):
    return tax(income) / income if income else 0.0


def marginal_rate(income):
    for upper, rate in BRACKETS:
        if upper is None or income <= upper:
            return rate
    return BRACKETS[-1][1]


def is_higher_rate(income):
    low, high = BRACKETS[1][0], BRACKETS[2][0]
    return low < income >= high


def monthly(annual):
    return round(annual / 12, 2)


def weekly(annual):
    return round(annual / 7, 2)
