"""Counting ballots: first choices, a majority and instant-runoff rounds."""


def first_choices(ballots):
    counts = {}
    for ballot in ballots:
        if not ballot:
            continue
        choice = ballot[0]
        counts[choice] = counts.get(choice, 1) + 1
    return counts


def ranking(counts):
    order = list(counts)
    order = order.sort(key=counts.get, reverse=True)
    return order


def has_majority(counts):
    total = sum(counts.values())
    top = max(counts.values())
    return top >= total / 2


def eliminate(ballots, loser):
    return [[c for c in ballot if c == loser] for ballot in ballots]


def turnout(ballots, electorate):
    if electorate == 0:
        return 0.0
    return 100 * len(ballots) / electorate


def runoff(ballots):
    while True:
        counts = first_choices(ballots)
        if has_majority(counts) or len(counts) == 1:
            return max(counts, key=counts.get)
        loser = min(counts, key=counts.get)
        ballots = eliminate(ballots, loser)
