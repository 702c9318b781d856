"""Arithmetic word problems with exact answers computed in code: a held-out split that no prompt is tuned on and a
small dev split for iterating, with different templates (not only different numbers) in each.

Every answer is a `Fraction` computed from the same numbers the prompt states, so no expected value is typed by
hand; a problem whose answer equals a number in its own prompt is redrawn (a model echoing the prompt must not pass).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

SPLITS = ("heldout", "heldout2", "heldout3", "heldout4", "heldout5", "heldout6", "dev")
_SEEDS = {"heldout": 20261205, "heldout2": 20261206, "heldout3": 20261207, "heldout4": 20261208, "heldout5": 20261209,
          "heldout6": 20261210, "dev": 7}
_PER_TEMPLATE = {"heldout": 3, "heldout2": 3, "heldout3": 3, "heldout4": 3, "heldout5": 3, "heldout6": 3, "dev": 2}
_MONTHS = ("January", "March", "May", "July", "August", "October", "December")
_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?:[eE][+-]?\d+)?")


@dataclass(frozen=True, slots=True)
class WordProblem:
    id: str
    split: str
    category: str  # units | percent | rates | money | dates | factorial | other
    prompt: str
    answer: Fraction

    def answer_text(self) -> str:
        """The exact answer as a short decimal (rounded to 4 places when it does not terminate)."""
        value = float(self.answer)
        return str(int(value)) if self.answer.denominator == 1 else f"{value:.4f}".rstrip("0").rstrip(".")


Template = Callable[[random.Random], tuple[str, Fraction]]
F = Fraction


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


# ---- held-out templates (never read while writing prompts) --------------------------------------------------

def _h_seconds_in_days(r: random.Random) -> tuple[str, Fraction]:
    d = r.randint(2, 9)
    return f"How many seconds are there in {d} days?", F(d * 24 * 3600)


def _h_minutes(r: random.Random) -> tuple[str, Fraction]:
    h, m = r.randint(2, 9), r.randint(5, 55)
    return f"How many minutes are there in {h} hours and {m} minutes?", F(h * 60 + m)


def _h_grams(r: random.Random) -> tuple[str, Fraction]:
    g = r.randint(3, 95) * 50
    return f"A recipe needs {g} grams of flour. How many kilograms is that?", F(g, 1000)


def _h_hours_in_weeks(r: random.Random) -> tuple[str, Fraction]:
    w = r.randint(2, 12)
    return f"How many hours are there in {w} weeks?", F(w * 7 * 24)


def _h_inches(r: random.Random) -> tuple[str, Fraction]:
    ft = r.randint(3, 40)
    return f"A board is {ft} feet long. How many inches long is it?", F(ft * 12)


def _h_celsius(r: random.Random) -> tuple[str, Fraction]:
    c = r.randint(2, 45) * 5
    return f"What is {c} degrees Celsius in degrees Fahrenheit?", F(c) * F(9, 5) + 32


def _h_percent_of(r: random.Random) -> tuple[str, Fraction]:
    p, n = r.randint(3, 95), r.randint(12, 480) * 25
    return f"What is {p}% of {n}?", F(p, 100) * n


def _h_sale(r: random.Random) -> tuple[str, Fraction]:
    price, p = r.randint(20, 300), r.choice((10, 15, 20, 25, 30, 35, 40))
    return (f"A jacket costs ${price} and is on sale for {p}% off. What is the sale price in dollars?",
            F(price) * (1 - F(p, 100)))


def _h_growth(r: random.Random) -> tuple[str, Fraction]:
    n, p = r.randint(12, 90) * 100, r.randint(2, 19)
    return f"A town of {n} people grows by {p}%. What is its new population?", F(n) * (1 + F(p, 100))


def _h_share(r: random.Random) -> tuple[str, Fraction]:
    b = r.choice((20, 25, 40, 50, 80))
    a = r.randint(3, b - 2)
    return f"{a} out of {b} students passed the test. What percentage of the students passed?", F(a, b) * 100


def _h_distance(r: random.Random) -> tuple[str, Fraction]:
    v, t = r.randint(35, 120), r.randint(2, 9)
    return f"A car drives at {v} km per hour for {t} hours. How many kilometers does it travel?", F(v * t)


def _h_speed(r: random.Random) -> tuple[str, Fraction]:
    t = r.randint(2, 8)
    d = t * r.randint(30, 95)
    return f"A train covers {d} miles in {t} hours. What is its average speed in miles per hour?", F(d, t)


def _h_printer(r: random.Random) -> tuple[str, Fraction]:
    rate, h = r.randint(12, 45), r.randint(2, 6)
    return f"A printer prints {rate} pages per minute. How many pages does it print in {h} hours?", F(rate * h * 60)


def _h_tank(r: random.Random) -> tuple[str, Fraction]:
    rate = r.randint(4, 25)
    cap = rate * r.randint(6, 60)
    return (f"A tap fills a tank at {rate} liters per minute. How many minutes does it take to fill a {cap} liter "
            "tank?", F(cap, rate))


def _h_notebooks(r: random.Random) -> tuple[str, Fraction]:
    cents, n = r.randint(105, 899), r.randint(3, 24)
    return f"A notebook costs ${_money(cents)}. How much do {n} notebooks cost in dollars?", F(cents * n, 100)


def _h_change(r: random.Random) -> tuple[str, Fraction]:
    a, b = r.randint(150, 2400), r.randint(150, 2400)
    bill = 5000 if a + b < 5000 else 10000
    return (f"I pay with a ${bill // 100} bill for two items costing ${_money(a)} and ${_money(b)}. How much change "
            "do I get in dollars?", F(bill - a - b, 100))


def _h_wages(r: random.Random) -> tuple[str, Fraction]:
    w, h, k = r.randint(12, 45), r.randint(15, 40), r.randint(2, 8)
    return (f"A worker earns ${w} per hour and works {h} hours a week. How much does she earn in {k} weeks, in "
            "dollars?", F(w * h * k))


def _h_days(r: random.Random) -> tuple[str, Fraction]:
    w, d = r.randint(2, 20), r.randint(1, 6)
    return f"How many days are there in {w} weeks and {d} days?", F(w * 7 + d)


def _h_same_month(r: random.Random) -> tuple[str, Fraction]:
    month, a = r.choice(_MONTHS), r.randint(1, 12)
    b = r.randint(a + 5, 31)
    return (f"How many days pass from {month} {a} to {month} {b} of the same year?", F(b - a))


def _h_factorial_ratio(r: random.Random) -> tuple[str, Fraction]:
    n = r.randint(9, 18)
    m = n - r.choice((2, 3))
    ratio = F(1)
    for k in range(m + 1, n + 1):
        ratio *= k
    return f"What is {n}! divided by {m}!?", ratio


HELDOUT: tuple[Template, ...] = (
    _h_seconds_in_days, _h_minutes, _h_grams, _h_hours_in_weeks, _h_inches, _h_celsius, _h_percent_of, _h_sale,
    _h_growth, _h_share, _h_distance, _h_speed, _h_printer, _h_tank, _h_notebooks, _h_change, _h_wages, _h_days,
    _h_same_month, _h_factorial_ratio,
)
_CATEGORY = {
    "seconds_in_days": "units", "minutes": "units", "grams": "units", "hours_in_weeks": "units", "inches": "units",
    "celsius": "units", "percent_of": "percent", "sale": "percent", "growth": "percent", "share": "percent",
    "distance": "rates", "speed": "rates", "printer": "rates", "tank": "rates", "notebooks": "money",
    "change": "money", "wages": "money", "days": "dates", "same_month": "dates", "factorial_ratio": "factorial",
    # second held-out
    "centimeters": "units", "ounces": "units", "pool": "units", "fahrenheit": "units", "tax": "percent",
    "battery": "percent", "deposit": "percent", "flight": "rates", "faucet": "rates", "machine": "rates",
    "laps": "rates", "pencils": "money", "taxi": "money", "gift": "money", "salary": "money", "meeting": "dates",
    "march_april": "dates", "years": "dates", "arrangements": "factorial", "rectangle": "other",
    # third held-out
    "yards": "units", "hours_and_minutes": "units", "kilometers": "units", "tons": "units", "absent": "percent",
    "what_percent": "percent", "interest": "percent", "fuel": "rates", "heartbeats": "rates", "download": "rates",
    "recipe": "rates", "eggs": "money", "gym": "money", "euros": "money", "day_of_year": "dates",
    "months": "dates", "officers": "factorial", "handshakes": "factorial", "average_sum": "other",
    "square_side": "other",
    # fourth held-out
    "gallons": "units", "pounds_ounces": "units", "bottles_liters": "units", "hours_days": "units",
    "percent_rise": "percent", "discount_tax": "percent", "profit": "percent", "tip_split": "money",
    "battery_price": "money", "savings": "money", "two_pipes": "rates", "pace": "rates", "speed_meters": "rates",
    "average_speed": "rates", "inclusive_days": "dates", "age": "dates", "ratio": "other", "fence": "other",
    "triangle": "other", "consecutive": "other",
    # fifth held-out
    "hectares": "units", "rain_cm": "units", "miles_yards": "units", "original_price": "percent",
    "compound": "percent", "commission": "percent", "painters": "rates", "trains_meet": "rates",
    "electricity": "rates", "coins": "money", "installments": "money", "trip_fuel": "money", "night_shift": "dates",
    "days_left": "dates", "leap_years": "dates", "outfits": "factorial", "multiples": "factorial", "circle": "other",
    "box_liters": "other", "tiles": "other",
    # sixth held-out
    "height_cm": "units", "map_scale": "units", "square_yards": "units", "playlist": "units",
    "percent_of_percent": "percent", "weighted_grade": "percent", "wins_needed": "percent", "multibuy": "money",
    "unit_price": "money", "overtime": "money", "tiered_water": "money", "dosage": "rates", "steps": "rates",
    "time_zone": "dates", "timesheet": "dates", "toppings": "factorial", "needed_score": "other",
    "paint_cans": "other", "ladder": "other", "pizza_slices": "other",
    # dev
    "ms": "units", "tip": "percent", "walk": "rates", "tickets": "money", "leap": "dates", "fact": "factorial",
    "avg": "other", "movie": "units", "bottles": "units", "raise": "percent", "exam": "percent",
    "cyclist": "rates", "pump": "rates", "apples": "money", "split": "money", "plan": "money", "weeks": "dates",
    "area": "other", "reading": "other",
}


# ---- second held-out templates (session 32): written and committed before the change they measure, new wordings,
# quantities and kinds of problem (a cross-month date span, a fixed fee plus a rate, arrangements) ----------------

def _h2_centimeters(r: random.Random) -> tuple[str, Fraction]:
    m, cm = r.randint(2, 9), r.randint(5, 95)
    return f"How many centimeters are in {m} meters and {cm} centimeters?", F(m * 100 + cm)


def _h2_ounces(r: random.Random) -> tuple[str, Fraction]:
    lb = r.randint(3, 25)
    return f"A parcel weighs {lb} pounds. How many ounces is that?", F(lb * 16)


def _h2_pool(r: random.Random) -> tuple[str, Fraction]:
    m3 = r.randint(12, 90)
    return f"A swimming pool holds {m3} cubic meters of water. How many liters is that?", F(m3 * 1000)


def _h2_fahrenheit(r: random.Random) -> tuple[str, Fraction]:
    k = r.randint(2, 20)
    return f"What is {32 + 9 * k} degrees Fahrenheit in degrees Celsius?", F(5 * k)


def _h2_tax(r: random.Random) -> tuple[str, Fraction]:
    price, p = r.randint(20, 400), r.choice((5, 6, 8, 10, 12, 15))
    return (f"A shop adds {p}% sales tax to a bill of ${price}. What is the total in dollars?",
            F(price) * (1 + F(p, 100)))


def _h2_battery(r: random.Random) -> tuple[str, Fraction]:
    p, cap = r.choice((15, 35, 45, 60, 85)), r.choice((3000, 4000, 4500, 5000))
    return f"A phone battery holds {cap} mAh and is {p}% charged. How many mAh does it hold now?", F(p * cap, 100)


def _h2_deposit(r: random.Random) -> tuple[str, Fraction]:
    price, p = r.randint(40, 300) * 100, r.choice((10, 15, 20, 25))
    return (f"A car costs ${price}. After a {p}% deposit is paid, how many dollars are still owed?",
            F(price) * (1 - F(p, 100)))


def _h2_flight(r: random.Random) -> tuple[str, Fraction]:
    v, t = r.choice((600, 750, 800, 850, 900)), r.randint(2, 9)
    return f"A plane flies at {v} km per hour. How many hours does a {v * t} km flight take?", F(t)


def _h2_faucet(r: random.Random) -> tuple[str, Fraction]:
    ml, h = r.randint(5, 40), r.randint(2, 12)
    return (f"A leaking faucet drips {ml} milliliters per minute. How many liters does it waste in {h} hours?",
            F(ml * 60 * h, 1000))


def _h2_machine(r: random.Random) -> tuple[str, Fraction]:
    n, h, d = r.randint(20, 90), r.randint(6, 16), r.randint(2, 6)
    return (f"A machine makes {n} bolts per hour and runs {h} hours a day. How many bolts does it make in {d} days?",
            F(n * h * d))


def _h2_laps(r: random.Random) -> tuple[str, Fraction]:
    laps, m = r.randint(5, 30), r.choice((200, 250, 400))
    return f"A runner completes {laps} laps of a {m} meter track. How many kilometers does she run?", F(laps * m, 1000)


def _h2_pencils(r: random.Random) -> tuple[str, Fraction]:
    k, cents, j = r.choice((6, 8, 10, 12)), r.randint(150, 600), r.randint(2, 9)
    return (f"Pencils are sold in packs of {k} for ${_money(cents)} a pack. How much do {k * j} pencils cost in "
            "dollars?", F(cents * j, 100))


def _h2_taxi(r: random.Random) -> tuple[str, Fraction]:
    base, per, km = r.randint(250, 600), r.randint(110, 290), r.randint(3, 25)
    return (f"A taxi charges ${_money(base)} plus ${_money(per)} per kilometer. What does a {km} km ride cost in "
            "dollars?", F(base + per * km, 100))


def _h2_gift(r: random.Random) -> tuple[str, Fraction]:
    a, b, c = r.randint(500, 4000), r.randint(500, 4000), r.randint(500, 4000)
    return (f"Three friends chip in ${_money(a)}, ${_money(b)} and ${_money(c)} for a gift. How much did the gift "
            "cost in dollars?", F(a + b + c, 100))


def _h2_salary(r: random.Random) -> tuple[str, Fraction]:
    s = r.randint(2000, 7000) * 12
    return f"An annual salary of ${s} is paid in equal monthly amounts. How much is each payment in dollars?", F(s, 12)


def _h2_meeting(r: random.Random) -> tuple[str, Fraction]:
    a = r.randint(8, 13)
    b = r.randint(a + 1, a + 4)
    return f"A meeting starts at {a}:00 and ends at {b}:30. How many minutes does it last?", F((b - a) * 60 + 30)


def _h2_march_april(r: random.Random) -> tuple[str, Fraction]:
    a, b = r.randint(10, 28), r.randint(2, 25)
    return f"How many days are there from March {a} to April {b}?", F(31 - a + b)


def _h2_years(r: random.Random) -> tuple[str, Fraction]:
    n, m = r.randint(2, 6), r.randint(2, 3)
    return f"How many days are in {n} ordinary years and {m} leap years?", F(365 * n + 366 * m)


def _h2_arrangements(r: random.Random) -> tuple[str, Fraction]:
    n = r.randint(5, 9)
    return f"In how many different orders can {n} books stand on a shelf?", F(math.factorial(n))


def _h2_rectangle(r: random.Random) -> tuple[str, Fraction]:
    w, length = r.randint(3, 20), r.randint(21, 60)
    return (f"A rectangle has a perimeter of {2 * (w + length)} cm and a width of {w} cm. What is its length in cm?",
            F(length))


HELDOUT2: tuple[Template, ...] = (
    _h2_centimeters, _h2_ounces, _h2_pool, _h2_fahrenheit, _h2_tax, _h2_battery, _h2_deposit, _h2_flight, _h2_faucet,
    _h2_machine, _h2_laps, _h2_pencils, _h2_taxi, _h2_gift, _h2_salary, _h2_meeting, _h2_march_april, _h2_years,
    _h2_arrangements, _h2_rectangle,
)


# ---- third held-out templates (session 33): written and committed before the change they measure; kinds no earlier
# split has (a day of the year, simple interest, a rate per 100 km, a proportion of a recipe, choices of two people
# in order, handshakes, a square's side from its area) -----------------------------------------------------------

def _h3_yards(r: random.Random) -> tuple[str, Fraction]:
    y = r.randint(4, 60)
    return f"A fabric roll is {y} yards long. How many feet of fabric is that?", F(y * 3)


def _h3_hours_and_minutes(r: random.Random) -> tuple[str, Fraction]:
    h, m = r.randint(2, 9), r.randint(5, 55)
    return f"A hike took {h} hours and {m} minutes. How many minutes is that in all?", F(h * 60 + m)


def _h3_kilometers(r: random.Random) -> tuple[str, Fraction]:
    km = r.randint(3, 40) + F(r.choice((0, 2, 5, 8)), 10)
    shown = f"{float(km):g}"
    return f"A running route is {shown} kilometers long. How many meters is it?", km * 1000


def _h3_tons(r: random.Random) -> tuple[str, Fraction]:
    t = r.randint(2, 30)
    return f"A truck carries {t} metric tons of sand. How many kilograms of sand is that?", F(t * 1000)


def _h3_absent(r: random.Random) -> tuple[str, Fraction]:
    n, p = r.choice((20, 25, 40, 50)), r.choice((10, 20, 40, 60))
    return f"A class has {n} students and {p}% of them are absent today. How many students are present?", \
        F(n * (100 - p), 100)


def _h3_what_percent(r: random.Random) -> tuple[str, Fraction]:
    n = r.choice((40, 50, 80, 200, 250))
    k = n * r.choice((3, 6, 7, 9)) // 10
    return f"{k} of the {n} seats on a bus are taken. What percent of the seats are taken?", F(k * 100, n)


def _h3_interest(r: random.Random) -> tuple[str, Fraction]:
    p, rate, y = r.randint(5, 40) * 100, r.choice((2, 3, 4, 5, 6)), r.randint(2, 7)
    return (f"A loan of ${p} charges {rate}% simple interest per year. How much interest is owed after {y} years, "
            "in dollars?", F(p * rate * y, 100))


def _h3_fuel(r: random.Random) -> tuple[str, Fraction]:
    per, d = r.choice((5, 6, 7, 8)), r.choice((250, 350, 420, 600, 750))
    return f"A car uses {per} liters of fuel per 100 km. How many liters does it need for {d} km?", F(per * d, 100)


def _h3_heartbeats(r: random.Random) -> tuple[str, Fraction]:
    b, h = r.randint(60, 85), r.randint(2, 6)
    return f"A resting heart beats {b} times a minute. How many times does it beat in {h} hours?", F(b * 60 * h)


def _h3_download(r: random.Random) -> tuple[str, Fraction]:
    speed, gb = r.choice((4, 5, 8, 10, 20, 25)), r.randint(2, 12)
    return (f"A file of {gb} gigabytes downloads at {speed} megabytes per second. How many seconds does it take, "
            "with 1 gigabyte = 1000 megabytes?", F(gb * 1000, speed))


def _h3_recipe(r: random.Random) -> tuple[str, Fraction]:
    s, g, s2 = r.choice((4, 6, 8)), r.randint(3, 12) * 50, r.choice((2, 3, 10, 12))
    return f"A recipe for {s} people uses {g} grams of flour. How many grams of flour are needed for {s2} people?", \
        F(g * s2, s)


def _h3_eggs(r: random.Random) -> tuple[str, Fraction]:
    cents, n = r.randint(240, 540), r.choice((18, 30, 36, 42, 60))
    return f"Eggs cost ${_money(cents)} a dozen. How much do {n} eggs cost, in dollars?", F(cents * n, 100 * 12)


def _h3_gym(r: random.Random) -> tuple[str, Fraction]:
    fee, month = r.randint(20, 80), r.randint(15, 45)
    return (f"A gym charges a ${fee} joining fee and ${month} a month. What does the first year cost in dollars, "
            "joining fee included?", F(fee + 12 * month))


def _h3_euros(r: random.Random) -> tuple[str, Fraction]:
    rate, e = F(r.randint(105, 125), 100), r.randint(30, 400)
    return f"One euro buys {float(rate):.2f} US dollars. How many dollars does {e} euros buy?", rate * e


def _h3_day_of_year(r: random.Random) -> tuple[str, Fraction]:
    d = r.randint(2, 30)
    return f"In a year that is not a leap year, March {d} is which day of the year (January 1 is day 1)?", \
        F(31 + 28 + d)


def _h3_months(r: random.Random) -> tuple[str, Fraction]:
    y, m = r.randint(2, 9), r.randint(1, 11)
    return f"A lease runs for {y} years and {m} months. How many months is that?", F(y * 12 + m)


def _h3_officers(r: random.Random) -> tuple[str, Fraction]:
    n = r.randint(6, 20)
    return (f"A club with {n} members elects a president and a vice president (two different people). In how many "
            "ways can it do that?", F(n * (n - 1)))


def _h3_handshakes(r: random.Random) -> tuple[str, Fraction]:
    n = r.randint(5, 25)
    return f"{n} people meet and each shakes hands once with each of the others. How many handshakes are there?", \
        F(n * (n - 1), 2)


def _h3_average_sum(r: random.Random) -> tuple[str, Fraction]:
    k, avg = r.randint(4, 9), r.randint(12, 90)
    return f"The average of {k} test scores is {avg}. What is the sum of the scores?", F(k * avg)


def _h3_square_side(r: random.Random) -> tuple[str, Fraction]:
    side = r.randint(6, 40)
    return f"A square field has an area of {side * side} square meters. How long is one side, in meters?", F(side)


HELDOUT3: tuple[Template, ...] = (
    _h3_yards, _h3_hours_and_minutes, _h3_kilometers, _h3_tons, _h3_absent, _h3_what_percent, _h3_interest, _h3_fuel,
    _h3_heartbeats, _h3_download, _h3_recipe, _h3_eggs, _h3_gym, _h3_euros, _h3_day_of_year, _h3_months,
    _h3_officers, _h3_handshakes, _h3_average_sum, _h3_square_side,
)


# ---- fourth held-out templates (session 34): written and committed before the change they measure, on kinds no
# earlier split has (quarts, pounds and ounces, a percent rise, a discount then tax, profit on cost, two pipes
# together, a pace, km/h as meters a minute, an average speed over two legs, days counted inclusively, an age, a
# ratio, a fence, a triangle, consecutive numbers) -----------------------------------------------------------------

def _h4_gallons(r: random.Random) -> tuple[str, Fraction]:
    g = r.randint(3, 25)
    return f"A water jug holds {g} gallons. How many quarts does it hold?", F(g * 4)


def _h4_pounds_ounces(r: random.Random) -> tuple[str, Fraction]:
    lb, oz = r.randint(5, 11), r.randint(1, 15)
    return f"A newborn weighs {lb} pounds {oz} ounces. What is that weight in ounces only?", F(lb * 16 + oz)


def _h4_bottles_liters(r: random.Random) -> tuple[str, Fraction]:
    ml, n = r.choice((250, 330, 500, 750)), r.randint(4, 24)
    return f"Each bottle holds {ml} milliliters of juice. How many liters do {n} bottles hold altogether?", \
        F(ml * n, 1000)


def _h4_hours_days(r: random.Random) -> tuple[str, Fraction]:
    d = r.randint(3, 20)
    return f"A server ran without a restart for {d * 24} hours. How many days is that?", F(d)


def _h4_percent_rise(r: random.Random) -> tuple[str, Fraction]:
    old = r.choice((20, 40, 50, 80, 120, 200))
    new = old + old * r.choice((5, 10, 15, 25, 30)) // 100
    return f"The price of a ticket went up from ${old} to ${new}. By what percent did it go up?", \
        F((new - old) * 100, old)


def _h4_discount_tax(r: random.Random) -> tuple[str, Fraction]:
    price, off, tax = r.randint(4, 20) * 10, r.choice((10, 20, 25)), r.choice((5, 8, 10))
    return (f"A jacket costs ${price}. It is {off}% off, and then {tax}% sales tax is added to the reduced price. "
            "What is the final price in dollars?", F(price * (100 - off) * (100 + tax), 10_000))


def _h4_profit(r: random.Random) -> tuple[str, Fraction]:
    cost = r.choice((20, 40, 50, 80, 125))
    sale = cost + cost * r.choice((10, 20, 30, 60)) // 100
    return (f"A shop buys a lamp for ${cost} and sells it for ${sale}. What is the profit as a percent of the cost?",
            F((sale - cost) * 100, cost))


def _h4_tip_split(r: random.Random) -> tuple[str, Fraction]:
    n, bill, tip = r.randint(2, 6), r.randint(40, 180), r.choice((10, 15, 20))
    return (f"A dinner bill is ${bill}. A {tip}% tip is added and the total is split equally among {n} people. How "
            "much does each person pay, in dollars?", F(bill * (100 + tip), 100 * n))


def _h4_battery_price(r: random.Random) -> tuple[str, Fraction]:
    n, cents = r.choice((4, 6, 8, 12)), r.randint(5, 30) * 12
    return f"A pack of {n} batteries costs ${_money(cents)}. What does one battery cost, in dollars?", \
        F(cents, 100 * n)


def _h4_savings(r: random.Random) -> tuple[str, Fraction]:
    per, weeks = r.randint(3, 12) * 5, r.randint(6, 30)
    return f"Maria saves ${per} every week. How many weeks does it take her to save ${per * weeks}?", F(weeks)


def _h4_two_pipes(r: random.Random) -> tuple[str, Fraction]:
    a, b = r.choice(((2, 3), (3, 6), (4, 12), (6, 12), (5, 20), (10, 15)))
    return (f"One pipe fills a tank in {a} hours and another fills it in {b} hours. How many hours do they take "
            "together?", F(a * b, a + b))


def _h4_pace(r: random.Random) -> tuple[str, Fraction]:
    pace, km = r.choice((4, 5, 6, 7)), r.choice((5, 10, 12, 15, 21))
    return f"A runner keeps a pace of {pace} minutes per kilometer. How many minutes does a {km} km run take?", \
        F(pace * km)


def _h4_speed_meters(r: random.Random) -> tuple[str, Fraction]:
    kmh = r.choice((6, 12, 18, 30, 36, 48, 54))
    return f"A boat moves at {kmh} km per hour. How many meters does it cover in one minute?", F(kmh * 1000, 60)


def _h4_average_speed(r: random.Random) -> tuple[str, Fraction]:
    a, ha, b, hb = r.randint(20, 60), r.randint(2, 4), r.randint(20, 60), r.randint(2, 4)
    return (f"A cyclist rides {a} km in {ha} hours, then {b} km in {hb} hours. What is the average speed over the "
            "whole ride, in km per hour?", F(a + b, ha + hb))


def _h4_inclusive_days(r: random.Random) -> tuple[str, Fraction]:
    start = r.randint(1, 12)
    end = start + r.randint(5, 16)
    return (f"A festival runs from June {start} to June {end}, both days included. On how many days is it open?",
            F(end - start + 1))


def _h4_age(r: random.Random) -> tuple[str, Fraction]:
    born, year = r.randint(1950, 2005), r.randint(2030, 2060)
    return f"Anna was born in {born}. How old is she on her birthday in {year}?", F(year - born)


def _h4_ratio(r: random.Random) -> tuple[str, Fraction]:
    a, b = r.choice(((2, 3), (3, 5), (1, 4), (4, 5), (3, 7)))
    total = (a + b) * r.randint(3, 12)
    return f"Red and blue marbles in a bag are in the ratio {a}:{b}. There are {total} marbles. How many are red?", \
        F(total * a, a + b)


def _h4_fence(r: random.Random) -> tuple[str, Fraction]:
    length, width = r.randint(8, 40), r.randint(5, 30)
    return (f"A rectangular yard is {length} meters long and {width} meters wide. How many meters of fence go all "
            "the way around it?", F(2 * (length + width)))


def _h4_triangle(r: random.Random) -> tuple[str, Fraction]:
    base, height = r.randint(4, 30), r.randint(3, 25)
    return f"A triangle has a base of {base} cm and a height of {height} cm. What is its area in square cm?", \
        F(base * height, 2)


def _h4_consecutive(r: random.Random) -> tuple[str, Fraction]:
    first = r.randint(10, 90)
    return (f"Three consecutive whole numbers add up to {3 * first + 3}. What is the largest of them?",
            F(first + 2))


HELDOUT4: tuple[Template, ...] = (
    _h4_gallons, _h4_pounds_ounces, _h4_bottles_liters, _h4_hours_days, _h4_percent_rise, _h4_discount_tax,
    _h4_profit, _h4_tip_split, _h4_battery_price, _h4_savings, _h4_two_pipes, _h4_pace, _h4_speed_meters,
    _h4_average_speed, _h4_inclusive_days, _h4_age, _h4_ratio, _h4_fence, _h4_triangle, _h4_consecutive,
)


# ---- fifth held-out templates (session 35): written blind, before the change they measure, by an author who read
# neither the engine's set-up nor its prompts nor any result; kinds no earlier split has (hectares, rainfall in mm
# summed to cm, miles to yards, a price before a discount, compound interest, a commission, workers and days in
# inverse proportion, two trains meeting, an appliance's electricity cost, coins, an installment plan's extra cost,
# a trip's fuel cost, a span across midnight, days left in the year, leap years in a range, outfits, multiples in a
# range, a circle from its diameter, a tank's volume in liters, tiles on a floor) ---------------------------------

def _nearest_cent(dollars: Fraction) -> Fraction:
    # Half a cent rounds up, as a person would; the tolerance of is_correct covers either way of rounding it.
    return F(math.floor(dollars * 100 + F(1, 2)), 100)


def _clock(minutes: int) -> str:
    """Minutes after midnight as a 12-hour clock time, e.g. 1350 -> '10:30 PM'."""
    h, m = divmod(minutes % (24 * 60), 60)
    return f"{(h - 1) % 12 + 1}:{m:02d} {'AM' if h < 12 else 'PM'}"


def _h5_hectares(r: random.Random) -> tuple[str, Fraction]:
    ha = r.randint(1, 40) + F(r.choice((0, 1, 2, 3)), 4)
    return f"A nature reserve covers {float(ha):g} hectares. How many square meters is that?", ha * 10_000


def _h5_rain_cm(r: random.Random) -> tuple[str, Fraction]:
    a, b, c = r.randint(2, 40), r.randint(2, 40), r.randint(2, 40)
    return (f"A rain gauge measured {a} mm on Friday, {b} mm on Saturday and {c} mm on Sunday. How many centimeters "
            "of rain fell over the three days?", F(a + b + c, 10))


def _h5_miles_yards(r: random.Random) -> tuple[str, Fraction]:
    miles = r.randint(1, 12) + F(r.choice((1, 2, 3)), 4)
    return f"A charity walk is {float(miles):g} miles long. How many yards is that?", miles * 1760


def _h5_original_price(r: random.Random) -> tuple[str, Fraction]:
    before, off = r.randint(20, 250), r.choice((10, 15, 20, 25, 30, 40))
    return (f"After a {off}% discount, a pair of headphones costs ${_money(before * (100 - off))}. What was the price "
            "before the discount, in dollars?", F(before))


def _h5_compound(r: random.Random) -> tuple[str, Fraction]:
    deposit, rate, years = r.randint(10, 80) * 100, r.choice((2, 3, 4, 5, 6, 8)), r.choice((2, 3))
    return (f"You put ${deposit} in a savings account that pays {rate}% interest per year, compounded once a year, "
            f"and take nothing out. What is the balance after {years} years, in dollars, to the nearest cent?",
            _nearest_cent(deposit * (1 + F(rate, 100)) ** years))


def _h5_commission(r: random.Random) -> tuple[str, Fraction]:
    base, rate, sales = r.randint(15, 40) * 100, r.choice((2, 3, 4, 5, 6, 8)), r.randint(12, 150) * 1000
    return (f"A salesperson is paid ${base} a month plus {rate}% commission on what she sells. In a month when she "
            f"sells ${sales:,} worth of goods, what is her total pay for the month in dollars?",
            F(base) + F(sales * rate, 100))


def _h5_painters(r: random.Random) -> tuple[str, Fraction]:
    workers, others = r.sample(range(2, 9), 2)
    step = others // math.gcd(workers, others)  # days a multiple of it: a whole number of days for the others
    days = step * r.randint(-(-6 // step), max(-(-6 // step), 24 // step))
    return (f"{workers} painters can paint an office building in {days} days. Working at the same rate, how many days "
            f"would {others} painters need for the same building?", F(workers * days, others))


def _h5_trains_meet(r: random.Random) -> tuple[str, Fraction]:
    v1, v2 = r.randint(40, 120), r.randint(40, 120)
    hours = F(r.randint(3, 10), 2) if (v1 + v2) % 2 == 0 else F(r.randint(2, 5))
    return (f"Two trains leave stations {(v1 + v2) * hours} km apart at the same time and travel toward each other on "
            f"the same line, one at {v1} km per hour and the other at {v2} km per hour. After how many hours do they "
            "meet?", hours)


def _h5_electricity(r: random.Random) -> tuple[str, Fraction]:
    watts, hours = r.choice((400, 750, 1000, 1200, 1500, 2000)), r.randint(2, 8)
    days, cents = r.choice((7, 14, 30)), r.randint(10, 35)
    return (f"A {watts}-watt space heater runs {hours} hours a day for {days} days. Electricity costs {cents} cents "
            "per kilowatt-hour. What does running the heater cost over that time, in dollars, to the nearest cent?",
            _nearest_cent(F(watts * hours * days, 1000) * F(cents, 100)))


def _h5_coins(r: random.Random) -> tuple[str, Fraction]:
    q, d, n = r.randint(5, 80), r.randint(5, 80), r.randint(5, 80)
    return (f"A jar holds {q} quarters, {d} dimes and {n} nickels. How much money is in the jar, in dollars?",
            F(25 * q + 10 * d + 5 * n, 100))


def _h5_installments(r: random.Random) -> tuple[str, Fraction]:
    cash, months = r.randint(30, 150) * 10, r.choice((6, 10, 12, 18, 24))
    down = cash * r.choice((10, 15, 20)) // 100
    monthly = -(-(cash - down) * 100 // months) + r.randint(100, 1500)  # cents; always more than paying cash
    return (f"A TV costs ${cash} paid in cash. On an installment plan you pay ${down} down and then {months} monthly "
            f"payments of ${_money(monthly)}. How many dollars more than the cash price does the installment plan "
            "cost in total?", F(down * 100 + months * monthly - cash * 100, 100))


def _h5_trip_fuel(r: random.Random) -> tuple[str, Fraction]:
    mpg, gallons, cents = r.choice((25, 28, 30, 32, 35, 40)), r.randint(4, 20), r.randint(289, 499)
    return (f"A road trip is {mpg * gallons} miles long. The car gets {mpg} miles per gallon and gas costs "
            f"${_money(cents)} a gallon. How much does the gas for the trip cost, in dollars?", F(gallons * cents, 100))


def _h5_night_shift(r: random.Random) -> tuple[str, Fraction]:
    start = r.randint(20, 23) * 60 + r.choice((0, 15, 30, 45))
    end = r.randint(4, 8) * 60 + r.choice((0, 10, 15, 30, 45))
    return (f"A night shift starts at {_clock(start)} and ends at {_clock(end)} the next morning. How many minutes "
            "long is the shift?", F(24 * 60 - start + end))


def _h5_days_left(r: random.Random) -> tuple[str, Fraction]:
    lengths = {"August": 31, "September": 30, "October": 31, "November": 30, "December": 31}
    months = list(lengths)
    month = r.choice(months)
    day = r.randint(1, lengths[month] - 1)
    later = sum(lengths[m] for m in months[months.index(month) + 1:])
    return (f"How many days of the year are left after {month} {day}? Count from the next day up to and including "
            "December 31.", F(lengths[month] - day + later))


def _h5_leap_years(r: random.Random) -> tuple[str, Fraction]:
    # Within 2001-2099 every year divisible by 4 is a leap year: no century rule to trip over.
    first = r.randint(2001, 2040)
    last = first + r.randint(15, 55)
    return (f"How many leap years are there from {first} to {last}, both years included?",
            F(sum(1 for y in range(first, last + 1) if y % 4 == 0)))


def _h5_outfits(r: random.Random) -> tuple[str, Fraction]:
    shirts, trousers, shoes = r.randint(3, 9), r.randint(2, 6), r.randint(2, 4)
    return (f"Sam packs {shirts} shirts, {trousers} pairs of trousers and {shoes} pairs of shoes. An outfit is one "
            "shirt, one pair of trousers and one pair of shoes. How many different outfits can he make?",
            F(shirts * trousers * shoes))


def _h5_multiples(r: random.Random) -> tuple[str, Fraction]:
    n, k = r.randint(100, 1000), r.randint(3, 13)
    return f"How many whole numbers from 1 to {n}, both included, are divisible by {k}?", F(n // k)


def _h5_circle(r: random.Random) -> tuple[str, Fraction]:
    diameter = 2 * r.randint(2, 15)
    return (f"A circular patio has a diameter of {diameter} feet. Using 3.14 for pi, what is its area in square "
            "feet?", F(314, 100) * (diameter // 2) ** 2)


def _h5_box_liters(r: random.Random) -> tuple[str, Fraction]:
    length, width, height = r.randint(6, 24) * 5, r.randint(4, 12) * 5, r.randint(4, 12) * 5
    return (f"A fish tank is {length} cm long, {width} cm wide and {height} cm high. How many liters of water does it "
            "hold when filled to the top?", F(length * width * height, 1000))


def _h5_tiles(r: random.Random) -> tuple[str, Fraction]:
    side = r.choice((20, 25, 30, 40, 50))
    across, along = sorted((r.randint(8, 24), r.randint(6, 20)))
    return (f"A kitchen floor is {along * side / 100:g} m long and {across * side / 100:g} m wide. It is covered "
            f"with square tiles {side} cm on a side that fit exactly, with no gaps and no cutting. How many tiles "
            "cover the floor?", F(along * across))


HELDOUT5: tuple[Template, ...] = (
    _h5_hectares, _h5_rain_cm, _h5_miles_yards, _h5_original_price, _h5_compound, _h5_commission, _h5_painters,
    _h5_trains_meet, _h5_electricity, _h5_coins, _h5_installments, _h5_trip_fuel, _h5_night_shift, _h5_days_left,
    _h5_leap_years, _h5_outfits, _h5_multiples, _h5_circle, _h5_box_liters, _h5_tiles,
)


# ---- sixth held-out templates (session 36): written blind, before the change they measure, by an author who read
# this file, its test, the style guide and the last three commit subjects, never the engine's set-up, its prompts
# or any result; kinds no earlier split has (height in feet and inches as cm, a map scale, square feet as square
# yards, a playlist's length, a percent of a percent, a weighted course grade, wins needed for a win percentage, a
# "buy k, get 1 free" offer, price per kilogram of two bag sizes, overtime at time and a half, a tiered water bill,
# a dose per kilogram of body weight, steps of a stride as km, a flight across time zones, a week's timesheet,
# toppings chosen 3 at a time, the score needed for a target average, whole cans of paint, a ladder against a wall,
# slices left of a shared pizza) -----------------------------------------------------------------------------------

def _h6_height_cm(r: random.Random) -> tuple[str, Fraction]:
    feet, inches = r.randint(4, 6), r.randint(1, 11)
    return (f"A person is {feet} feet {inches} inches tall. What is that height in centimeters?",
            F(feet * 12 + inches) * F(254, 100))


def _h6_map_scale(r: random.Random) -> tuple[str, Fraction]:
    scale, cm = r.choice((10_000, 20_000, 25_000, 50_000)), F(r.randint(12, 180), 10)
    return (f"On a hiking map with a scale of 1:{scale:,}, two huts are {float(cm):g} cm apart. How far apart are "
            "they on the ground, in kilometers?", cm * scale / 100_000)


def _h6_square_yards(r: random.Random) -> tuple[str, Fraction]:
    length, width = 3 * r.randint(4, 9), 3 * r.randint(3, 6)
    return (f"A bedroom floor is {length} feet long and {width} feet wide. How many square yards of carpet cover it "
            "exactly?", F(length * width, 9))


def _h6_playlist(r: random.Random) -> tuple[str, Fraction]:
    songs = [(r.randint(2, 5), r.randint(0, 59)) for _ in range(r.randint(3, 5))]
    listed = ", ".join(f"{m}:{s:02d}" for m, s in songs[:-1]) + f" and {songs[-1][0]}:{songs[-1][1]:02d}"
    return (f"A playlist has {len(songs)} songs lasting {listed} (minutes:seconds). How long is the whole playlist, "
            "in seconds?", F(sum(60 * m + s for m, s in songs)))


def _h6_percent_of_percent(r: random.Random) -> tuple[str, Fraction]:
    women, yoga = r.choice((40, 45, 50, 60, 75, 80)), r.choice((10, 15, 20, 25, 30, 35, 40))
    return (f"{women}% of a gym's members are women, and {yoga}% of those women take a yoga class. What percent of "
            "all the gym's members are women who take a yoga class?", F(women * yoga, 100))


def _h6_weighted_grade(r: random.Random) -> tuple[str, Fraction]:
    weights = r.choice(((20, 30, 50), (25, 25, 50), (10, 40, 50), (30, 30, 40), (15, 35, 50)))
    scores = [r.randint(55, 100) for _ in weights]
    return (f"A course grade counts homework {weights[0]}%, the midterm {weights[1]}% and the final exam "
            f"{weights[2]}%. Lee scored {scores[0]} on homework, {scores[1]} on the midterm and {scores[2]} on the "
            "final exam (each out of 100). What is Lee's course grade out of 100?",
            F(sum(w * s for w, s in zip(weights, scores, strict=True)), 100))


def _h6_wins_needed(r: random.Random) -> tuple[str, Fraction]:
    percent = r.choice((50, 60, 70, 75, 80))
    step = 100 // math.gcd(percent, 100)  # a season of a multiple of it has a whole number of wins at `percent`
    while True:
        total = step * r.randint(-(-20 // step), 60 // step)
        played = r.randint(total // 2, total - 4)
        target = percent * total // 100
        needed = r.randint(1, min(total - played, target))
        won = target - needed
        if 0 < won <= played:
            break
    return (f"A basketball team has won {won} of its first {played} games this season and has {total - played} "
            f"games left. How many of the remaining games must it win to finish the season having won exactly "
            f"{percent}% of all its games?", F(needed))


def _h6_multibuy(r: random.Random) -> tuple[str, Fraction]:
    buy, cents = r.choice((2, 3, 4)), r.randint(79, 349)
    n = (buy + 1) * r.randint(2, 5)
    return (f"Cans of soup cost ${_money(cents)} each, with an offer of \"buy {buy}, get 1 free\". How much do "
            f"{n} cans cost, in dollars?", F(cents * n * buy, 100 * (buy + 1)))


def _h6_unit_price(r: random.Random) -> tuple[str, Fraction]:
    small_g, large_kg = r.choice((250, 500)), r.choice((2, 5))
    small_cents = r.randint(60, 300) * small_g // 250  # whole cents per kilogram for the small bag
    saving = r.randint(20, 150)  # cents per kilogram
    large_cents = (small_cents * 1000 // small_g - saving) * large_kg
    return (f"A {small_g} g bag of rice costs ${_money(small_cents)} and a {large_kg} kg bag of the same rice costs "
            f"${_money(large_cents)}. How much cheaper per kilogram is the {large_kg} kg bag, in dollars?",
            F(saving, 100))


def _h6_overtime(r: random.Random) -> tuple[str, Fraction]:
    cents, hours = r.randint(30, 60) * 50, r.randint(42, 56)
    return (f"Sam earns ${_money(cents)} an hour for the first 40 hours of a week and time and a half for every hour "
            f"beyond 40. Last week he worked {hours} hours. What was his pay for the week, in dollars?",
            F(cents * 40, 100) + F(cents * 3 * (hours - 40), 200))


def _h6_tiered_water(r: random.Random) -> tuple[str, Fraction]:
    first, low = r.choice((10, 15, 20)), r.randint(110, 250)
    high, used = low + r.randint(40, 150), first + r.randint(2, 25)
    return (f"A water company charges ${_money(low)} per cubic meter for the first {first} cubic meters used in a "
            f"month and ${_money(high)} per cubic meter for every cubic meter after that. A household uses {used} "
            "cubic meters in a month. What is its water bill for the month, in dollars?",
            F(first * low + (used - first) * high, 100))


def _h6_dosage(r: random.Random) -> tuple[str, Fraction]:
    per_kg, doses = r.choice((5, 10, 15, 20, 25, 30)), r.choice((2, 3, 4))
    kg = r.randint(8, 40)
    while per_kg * kg % doses:
        kg = r.randint(8, 40)
    return (f"A vet prescribes {per_kg} mg of a medicine per kilogram of body weight per day, given in {doses} equal "
            f"doses a day. How many mg is each dose for a dog that weighs {kg} kg?", F(per_kg * kg, doses))


def _h6_steps(r: random.Random) -> tuple[str, Fraction]:
    stride, steps = r.randint(60, 85), r.randint(8, 30) * 500
    return (f"Your stride is {stride} cm long. How many kilometers do you walk in {steps:,} steps?",
            F(stride * steps, 100_000))


def _h6_time_zone(r: random.Random) -> tuple[str, Fraction]:
    home, away, ahead = r.choice((("London", "Dubai", 4), ("New York", "London", 5), ("London", "Tokyo", 9),
                                  ("Berlin", "Bangkok", 6), ("Los Angeles", "New York", 3)))
    leave = r.randint(6, 22) * 60 + r.choice((0, 10, 15, 25, 40, 45, 50))
    flight = r.randint(3, 13) * 60 + r.choice((0, 5, 20, 30, 35, 55))
    land = leave + flight + ahead * 60
    day = " the next day" if land >= 24 * 60 else ""
    return (f"A flight leaves {home} at {_clock(leave)} {home} time and lands in {away} at {_clock(land)} {away} "
            f"time{day}. {away}'s clocks are {ahead} hours ahead of {home}'s. How many minutes long is the flight?",
            F(flight))


def _h6_timesheet(r: random.Random) -> tuple[str, Fraction]:
    days, lunch = r.choice((3, 4, 5, 6)), r.choice((30, 45, 60))
    start, end = r.randint(28, 40) * 15, r.randint(62, 74) * 15
    return (f"Kim works {days} days a week, from {_clock(start)} to {_clock(end)} each day, with an unpaid lunch "
            f"break of {lunch} minutes. How many hours does she work in a week?", F(days * (end - start - lunch), 60))


def _h6_toppings(r: random.Random) -> tuple[str, Fraction]:
    n = r.randint(6, 16)
    return (f"A pizzeria lets you choose 3 different toppings from a list of {n}; the order you pick them in does "
            "not matter. How many different 3-topping combinations are there?", F(math.comb(n, 3)))


def _h6_needed_score(r: random.Random) -> tuple[str, Fraction]:
    while True:
        scores = [r.randint(60, 98) for _ in range(r.choice((3, 4)))]
        target = r.randint(70, 92)
        needed = target * (len(scores) + 1) - sum(scores)
        if 40 <= needed <= 100:
            break
    listed = ", ".join(map(str, scores[:-1])) + f" and {scores[-1]}"
    return (f"Jo scored {listed} on her first {len(scores)} tests. What must she score on the next test for the "
            f"average of all {len(scores) + 1} tests to be exactly {target}?", F(needed))


def _h6_paint_cans(r: random.Random) -> tuple[str, Fraction]:
    area, coats = r.randint(20, 90), r.choice((1, 2))
    cover, can = r.choice((8, 10, 12)), r.choice((F(1), F(5, 2), F(4)))
    coat_text = "one coat" if coats == 1 else "two coats"
    return (f"You want to paint {area} square meters of wall with {coat_text}. One liter of paint covers {cover} "
            f"square meters, and the paint is sold only in whole {float(can):g}-liter cans. How many cans must you "
            "buy?", F(math.ceil(F(area * coats, cover) / can)))


def _h6_ladder(r: random.Random) -> tuple[str, Fraction]:
    foot, height, ladder = r.choice(((3, 4, 5), (4, 3, 5), (5, 12, 13), (8, 15, 17), (7, 24, 25)))
    k = r.randint(1, max(1, 26 // ladder))
    return (f"A {ladder * k}-foot ladder leans against a wall with its foot {foot * k} feet from the base of the "
            "wall. How high up the wall does the top of the ladder reach, in feet?", F(height * k))


def _h6_pizza_slices(r: random.Random) -> tuple[str, Fraction]:
    a, b = r.choice(((F(1, 4), F(1, 3)), (F(1, 2), F(1, 3)), (F(1, 6), F(3, 8)), (F(1, 4), F(3, 8)),
                     (F(1, 3), F(1, 6)), (F(1, 2), F(1, 8))))
    lcm = a.denominator * b.denominator // math.gcd(a.denominator, b.denominator)
    slices = lcm * r.choice([k for k in (1, 2, 3, 4) if 8 <= lcm * k <= 24])
    return (f"A pizza is cut into {slices} equal slices. Ana eats {a} of the pizza and Ben eats {b} of it. How many "
            "slices are left?", slices * (1 - a - b))


HELDOUT6: tuple[Template, ...] = (
    _h6_height_cm, _h6_map_scale, _h6_square_yards, _h6_playlist, _h6_percent_of_percent, _h6_weighted_grade,
    _h6_wins_needed, _h6_multibuy, _h6_unit_price, _h6_overtime, _h6_tiered_water, _h6_dosage, _h6_steps,
    _h6_time_zone, _h6_timesheet, _h6_toppings, _h6_needed_score, _h6_paint_cans, _h6_ladder, _h6_pizza_slices,
)


# ---- dev templates (for iterating on prompts; different wording and quantities) -------------------------------

def _d_ms(r: random.Random) -> tuple[str, Fraction]:
    m = r.randint(2, 30)
    return f"How many milliseconds are in {m} minutes?", F(m * 60 * 1000)


def _d_tip(r: random.Random) -> tuple[str, Fraction]:
    bill, p = r.randint(20, 160), r.choice((12, 15, 18, 20))
    return f"Dinner costs ${bill}. What is a {p}% tip on it, in dollars?", F(bill * p, 100)


def _d_walk(r: random.Random) -> tuple[str, Fraction]:
    v, minutes = r.randint(3, 6), r.choice((30, 90, 150))
    return f"Walking at {v} km/h, how many km do you cover in {minutes} minutes?", F(v * minutes, 60)


def _d_tickets(r: random.Random) -> tuple[str, Fraction]:
    a, c, na, nc = r.randint(9, 20), r.randint(4, 8), r.randint(2, 4), r.randint(2, 5)
    return (f"Adult tickets cost ${a} and child tickets ${c}. What do {na} adults and {nc} children pay in total?",
            F(a * na + c * nc))


def _d_leap(r: random.Random) -> tuple[str, Fraction]:
    y = r.randint(2, 9)
    return f"How many days are there in {y} leap years?", F(366 * y)


def _d_fact(r: random.Random) -> tuple[str, Fraction]:
    n = r.randint(6, 10)
    return f"Compute {n} factorial.", F(math.factorial(n))


def _d_avg(r: random.Random) -> tuple[str, Fraction]:
    a, b = r.randint(40, 99), r.randint(40, 99)
    c = r.randint(40, 99)
    return f"What is the average of {a}, {b} and {c}?", F(a + b + c, 3)


# Added in session 29 (before the set-up changes they measure): more dev problems to learn from, again with wordings
# and quantities of their own.

def _d_movie(r: random.Random) -> tuple[str, Fraction]:
    m = r.choice((75, 90, 105, 135, 150, 165))
    return f"A movie lasts {m} minutes. How many hours is that?", F(m, 60)


def _d_bottles(r: random.Random) -> tuple[str, Fraction]:
    ml, n = r.choice((250, 330, 500, 750)), r.randint(3, 12)
    return f"A bottle holds {ml} milliliters. How many liters do {n} bottles hold?", F(ml * n, 1000)


def _d_raise(r: random.Random) -> tuple[str, Fraction]:
    old, p = r.randint(8, 60) * 10, r.choice((5, 10, 15, 20, 30))
    return (f"A bike's price went up from ${old} to ${old * (100 + p) // 100}. By what percent did the price rise?",
            F(p))


def _d_exam(r: random.Random) -> tuple[str, Fraction]:
    n, p = r.choice((40, 60, 80, 120)), r.choice((35, 45, 65, 85))
    return f"An exam has {n} questions and Lena got {p}% of them right. How many questions did she get right?", \
        F(n * p, 100)


def _d_cyclist(r: random.Random) -> tuple[str, Fraction]:
    d, m = r.randint(4, 20), r.choice((20, 30, 40, 48))
    return f"A cyclist rides {d} km in {m} minutes. What is her speed in km per hour?", F(d * 60, m)


def _d_pump(r: random.Random) -> tuple[str, Fraction]:
    rate, m = r.randint(2, 9) * 60, r.choice((15, 20, 45, 50))
    return f"A pump moves {rate} gallons per hour. How many gallons does it move in {m} minutes?", F(rate * m, 60)


def _d_apples(r: random.Random) -> tuple[str, Fraction]:
    cents, g = r.randint(150, 600), r.choice((250, 500, 750, 1500))
    return f"Apples cost ${_money(cents)} per kilogram. How much do {g} grams of apples cost in dollars?", \
        F(cents * g, 100 * 1000)


def _d_split(r: random.Random) -> tuple[str, Fraction]:
    n = r.randint(3, 8)
    bill = n * r.randint(900, 4500)
    return f"{n} friends split a restaurant bill of ${_money(bill)} equally. How much does each one pay?", \
        F(bill, 100 * n)


def _d_plan(r: random.Random) -> tuple[str, Fraction]:
    m, y = r.randint(15, 70), r.randint(2, 5)
    return f"A phone plan costs ${m} a month. How much does it cost over {y} years, in dollars?", F(m * 12 * y)


def _d_weeks(r: random.Random) -> tuple[str, Fraction]:
    w = r.randint(3, 30)
    return f"A holiday lasts {w * 7} days. How many weeks is that?", F(w)


def _d_area(r: random.Random) -> tuple[str, Fraction]:
    a, b = r.randint(4, 30), r.randint(3, 25)
    return f"A garden is {a} meters long and {b} meters wide. What is its area in square meters?", F(a * b)


def _d_reading(r: random.Random) -> tuple[str, Fraction]:
    per, days = r.randint(12, 40), r.randint(6, 25)
    return f"Tom reads {per} pages a day. How many days does he need for a book of {per * days} pages?", F(days)


DEV: tuple[Template, ...] = (_d_ms, _d_tip, _d_walk, _d_tickets, _d_leap, _d_fact, _d_avg, _d_movie, _d_bottles,
                             _d_raise, _d_exam, _d_cyclist, _d_pump, _d_apples, _d_split, _d_plan, _d_weeks,
                             _d_area, _d_reading)


def numbers_in(text: str) -> list[Fraction]:
    """Every number written in `text` (thousands separators dropped), exactly."""
    found = []
    for token in _NUMBER.findall(text):
        try:
            found.append(F(token.replace(",", "")))
        except (ValueError, ZeroDivisionError):
            continue
    return found


def problems(split: str) -> list[WordProblem]:
    """The split's problems, the same on every run (seeded), each with its exact answer."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    rng = random.Random(_SEEDS[split])
    out: list[WordProblem] = []
    templates = {"heldout": HELDOUT, "heldout2": HELDOUT2, "heldout3": HELDOUT3, "heldout4": HELDOUT4,
                 "heldout5": HELDOUT5, "heldout6": HELDOUT6}
    for template in templates.get(split, DEV):
        name = template.__name__.split("_", 2)[2]
        for i in range(_PER_TEMPLATE[split]):
            prompt, answer = template(rng)
            while answer in numbers_in(prompt) or any(p.prompt == prompt for p in out):
                prompt, answer = template(rng)
            out.append(WordProblem(f"{split}-{name}-{i}", split, _CATEGORY[name], prompt, answer))
    return out


def is_correct(answer: str, expected: Fraction) -> bool:
    """True when the answer states the expected value: any number in it equal to it, allowing rounding to cents
    (or to 4 significant places for large values)."""
    tolerance = max(F(51, 10_000), abs(expected) / 10_000)
    return any(abs(n - expected) <= tolerance for n in numbers_in(answer))
