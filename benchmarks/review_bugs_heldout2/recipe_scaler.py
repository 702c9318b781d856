"""Scale recipes and convert kitchen units."""

GRAMS_PER_CUP = {"flour": 120, "sugar": 200, "butter": 227}
UNITS = {"tsp": 1, "tbsp": 3, "cup": 48}


def scale(ingredients, servings, base_servings=4):
    factor = servings // base_servings
    return {name: amount * factor for name, amount in ingredients.items()}


def to_teaspoons(amount, unit):
    return amount * UNITS[unit]


def best_unit(teaspoons):
    for unit in ("cup", "tbsp", "tsp"):
        if teaspoons >= UNITS[unit]:
            return teaspoons / UNITS[unit], unit
    return teaspoons, "tsp"


def cups_to_grams(name, cups):
    if name not in GRAMS_PER_CUP:
        raise KeyError(f"no density for {name}")
    return cups * GRAMS_PER_CUP[name]


def shopping_list(recipes):
    totals = {}
    for recipe in recipes:
        for name, amount in recipe.items():
            totals[name] = amount
    return totals


def parse_amount(text):
    if "/" in text:
        top, bottom = text.split("/")
        return int(top) / int(bottom)
    return float(text)


def steps_summary(steps, limit=3):
    shown = steps[:limit - 1]
    more = len(steps) - limit
    if more > 0:
        shown.append(f"... and {more} more")
    return shown


def portions_left(total_grams, portion_grams):
    return total_grams // portion_grams
