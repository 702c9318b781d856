"""Small verifiable tasks for measuring distillation: arithmetic, JSON shape, tiny Python functions. Each check is
computed from the same numbers and names the prompt states; no expected answer is typed by hand.

They stand in for a user's repetitive work: the same kinds of request with different numbers and names, so a
held-out task shares its template with tasks tuned on but never its values.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from .checks import Check


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    family: str
    prompt: str
    check: Check


_NAMES = ("Alice", "Bruno", "Chen", "Dara", "Emeka", "Farah", "Goran", "Hana", "Ivo", "Jun", "Kira", "Lena",
          "Milo", "Nadia", "Omar", "Pia", "Quinn", "Rosa", "Sami", "Tara")
_CITIES = (("Lyon", "France"), ("Porto", "Portugal"), ("Graz", "Austria"), ("Turku", "Finland"),
           ("Gent", "Belgium"), ("Cork", "Ireland"), ("Bergen", "Norway"), ("Malmo", "Sweden"),
           ("Brno", "Czechia"), ("Split", "Croatia"), ("Kyoto", "Japan"), ("Osaka", "Japan"))


def _add(r: random.Random) -> tuple[str, Check]:
    a, b = r.randint(10, 99), r.randint(10, 99)
    return f"What is {a} + {b}?", Check("arithmetic", expression=f"{a} + {b}")


def _times(r: random.Random) -> tuple[str, Check]:
    a, b = r.randint(2, 9), r.randint(11, 19)
    return f"What is {a} * {b}?", Check("arithmetic", expression=f"{a} * {b}")


def _person(r: random.Random) -> tuple[str, Check]:
    name, age = r.choice(_NAMES), r.randint(18, 80)
    schema = {"type": "object", "required": ["name", "age"], "additionalProperties": False,
              "properties": {"name": {"const": name}, "age": {"const": age}}}
    return (f'Reply with only a JSON object with keys "name" and "age" for {name}, who is {age} years old.',
            Check("json", schema=schema))


def _place(r: random.Random) -> tuple[str, Check]:
    city, country = r.choice(_CITIES)
    schema = {"type": "object", "required": ["city", "country"], "additionalProperties": False,
              "properties": {"city": {"const": city}, "country": {"const": country}}}
    return (f'Reply with only a JSON object with keys "city" and "country" for {city}, a city in {country}.',
            Check("json", schema=schema))


def _add_n(r: random.Random) -> tuple[str, Check]:
    n = r.randint(2, 50)
    tests = f"assert add_{n}(1) == {1 + n}\nassert add_{n}(-{n}) == 0\nassert add_{n}(100) == {100 + n}"
    return (f"Write a Python function add_{n}(x) that returns x plus {n}. Reply with the code only.",
            Check("code", tests=tests))


def _multiple(r: random.Random) -> tuple[str, Check]:
    n = r.randint(3, 12)
    tests = (f"assert is_multiple_of_{n}({n * 3}) is True\nassert is_multiple_of_{n}({n * 3 + 1}) is False\n"
             f"assert is_multiple_of_{n}(0) is True")
    return (f"Write a Python function is_multiple_of_{n}(x) that returns True when x is a multiple of {n}, "
            "else False. Reply with the code only.", Check("code", tests=tests))


FAMILIES: dict[str, Callable[[random.Random], tuple[str, Check]]] = {
    "add": _add, "times": _times, "json_person": _person, "json_place": _place, "code_add": _add_n,
    "code_multiple": _multiple}


def generate_tasks(count: int, seed: int = 20261206) -> list[Task]:
    """`count` distinct tasks, the families taken in turn, in a fixed order for a seed (the last ones stand for
    the user's newest prompts)."""
    rng = random.Random(seed)
    tasks: list[Task] = []
    seen: set[str] = set()
    families = list(FAMILIES.items())
    while len(tasks) < count:
        family, make = families[len(tasks) % len(families)]
        prompt, check = make(rng)
        if prompt in seen:
            continue
        seen.add(prompt)
        tasks.append(Task(f"{family}-{len(tasks):03d}", family, prompt, check))
    return tasks
