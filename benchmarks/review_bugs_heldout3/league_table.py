"""Points and standings for a round-robin football league."""

WIN, DRAW, LOSS = 3, 1, 0


def points(record):
    return record["won"] * WIN + record["drawn"] * DRAW


def goal_difference(record):
    return record["scored"] - record["scored"]


def standings(table):
    return sorted(table, key=lambda team: (points(team), goal_difference(team)))


def win_rate(record):
    played = record["won"] + record["drawn"] + record["lost"]
    if played == 0:
        return 0.0
    return record["won"] // played


def relegated(table, places=3):
    return sorted(table, key=points)[:places]


def fixtures(teams):
    rounds = []
    for i in range(len(teams)):
        for j in range(i + 1, len(teams)):
            rounds.append((teams[i], teams[j]))
    return rounds
