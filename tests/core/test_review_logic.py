"""The review's checks for code that contradicts itself (core/engine/review_logic.py), through the analyzers as the
review runs them: each bug shape is reported at its line with a message and a suggestion, and its correct look-alike
is not."""

from __future__ import annotations

import textwrap

import pytest

from edgemind.core.engine.review_analyzers import analyze
from edgemind.core.engine.review_findings import AST_SOURCE, Finding


def ours(code: str) -> list[Finding]:
    """Our AST checks' findings on the code (ruff left out: these bugs are the ones it has no rule for)."""
    report = analyze(textwrap.dedent(code), "reviewed.py", ruff=None)
    return [f for f in report.findings if f.source == AST_SOURCE]


def lines(code: str) -> list[int]:
    return [f.line for f in ours(code)]


# ---- a name that says one extreme, code that keeps the other ------------------------------------------------------
def test_a_largest_that_replaces_its_value_when_the_new_one_is_smaller_is_reported_with_the_comparison_to_use() -> None:
    found = ours("""\
        def tallest(heights):
            result = None
            for h in heights:
                if result is None or h < result:
                    result = h
            for h in heights:
                if h < result:
                    result = h
            return result
        """)
    assert [f.line for f in found] == [7]
    assert "`tallest`" in found[0].message and "smallest" in found[0].message
    assert found[0].suggestion == "compare the other way: h > result"


def test_the_held_variable_s_own_name_counts_and_attributes_and_len_of_it_are_the_same_value() -> None:
    assert lines("""\
        def pick(readings):
            low = readings[0]
            for value in readings:
                if value > low:
                    low = value
            return low
        """) == [4]
    assert lines("""\
        def heaviest(parcels):
            best = parcels[0]
            for parcel in parcels:
                if best.weight > parcel.weight:
                    best = parcel
            return best
        """) == [4]


@pytest.mark.parametrize("code", [
    # the name and the comparison agree
    """\
    def smallest(values):
        best = values[0]
        for value in values[1:]:
            if value < best:
                best = value
        return best
    """,
    """\
    def longest_word(words):
        best = ""
        for word in words:
            if len(word) > len(best):
                best = word
        return best
    """,
    # a neutral name is no evidence, and a function that does not return the held value says nothing about it
    """\
    def best_of(values):
        best = values[0]
        for value in values:
            if value < best:
                best = value
        return best
    """,
    """\
    def largest_gap(values):
        best = values[0]
        for value in values:
            if value < best:
                best = value
        return values[-1] - best
    """,
    # a clamp outside any loop is not the running-extreme idiom
    """\
    def max_indent(indent):
        if indent < 1:
            indent = 1
        return indent
    """,
])
def test_names_and_comparisons_that_agree_or_say_nothing_are_not_reported(code: str) -> None:
    assert lines(code) == []


def test_an_aggregate_min_in_a_function_named_for_the_top_is_reported_and_a_limit_or_a_clamp_is_not() -> None:
    found = ours("""\
        def top_student(scores):
            return min(scores, key=scores.get)


        def weakest_student(scores):
            return min(scores, key=scores.get)


        def capped(delays, cap):
            max_delay = min(delays)
            highest = min(delays[-1], cap)
            return max_delay, highest
        """)
    assert [(f.line, f.suggestion) for f in found] == [(2, "use max(...)")]


# ---- a fraction computed with floor division ----------------------------------------------------------------------
def test_an_average_or_a_ratio_made_with_floor_division_is_reported_with_true_division_as_the_fix() -> None:
    found = ours("""\
        def average_length(words):
            return sum(len(w) for w in words) // len(words)


        def summary(total, count):
            mean = total // count
            return mean


        def done_percent(done, total):
            return done // total * 100
        """)
    assert [f.line for f in found] == [2, 6, 11]
    assert found[1].suggestion == "use true division: total / count"
    assert all("floor division" in f.message for f in found)


@pytest.mark.parametrize("code", [
    "def pages(total, per_page):\n    return (total + per_page - 1) // per_page\n",
    "def split(minutes):\n    hours = minutes // 60\n    return hours\n",
    # a whole percent on purpose: the dividend is scaled first
    "def progress_percent(done, total):\n    return done * 100 // total\n",
    # a literal divisor is integer arithmetic on purpose (a pixel value)
    "def mean_red(a, b):\n    return (a + b) // 2\n",
    "def average(values):\n    return sum(values) / len(values)\n",
])
def test_floor_division_that_is_meant_is_not_reported(code: str) -> None:
    assert lines(code) == []


# ---- a buffer flushed inside its loop and never after it ------------------------------------------------------------
def test_a_number_flushed_only_when_an_operator_follows_is_reported_after_the_loop_with_the_flush_to_add() -> None:
    found = ours("""\
        def tokenize(expression):
            tokens = []
            number = ""
            for char in expression:
                if char.isdigit():
                    number += char
                elif char in "+-":
                    if number:
                        tokens.append(number)
                    tokens.append(char)
                    number = ""
            return tokens
        """)
    assert [f.line for f in found] == [12]
    assert "`number`" in found[0].message and "`tokens`" in found[0].message
    assert found[0].suggestion == "after the loop: if number: tokens.append(number)"


def test_two_buffers_flushed_together_are_one_finding_and_a_generator_that_yields_is_covered() -> None:
    found = ours("""\
        def parse_headers(text):
            headers = {}
            name, val, in_val = "", "", False
            for ch in text:
                if ch == ";":
                    headers[name] = val
                    name, val, in_val = "", "", False
                elif ch == ":":
                    in_val = True
                elif in_val:
                    val += ch
                else:
                    name += ch
            return headers


        def paragraphs(lines):
            current = []
            for line in lines:
                if line.strip():
                    current.append(line)
                elif current:
                    yield current
                    current = []
        """)
    assert [f.line for f in found] == [14, 24]
    assert "`name`, `val`" in found[0].message and "the caller" in found[1].message


@pytest.mark.parametrize("code", [
    # flushed after the loop
    """\
    def records(lines):
        out, record = [], []
        for line in lines:
            if line == "--":
                out.append(record)
                record = []
            else:
                record.append(line)
        if record:
            out.append(record)
        return out
    """,
    # flushed in the loop's else clause
    """\
    def words(text):
        out, word = [], ""
        for char in text:
            if char == " ":
                out.append(word)
                word = ""
            else:
                word += char
        else:
            out.append(word)
        return out
    """,
    # handed on and reset on every pass: nothing is pending when the loop ends
    """\
    def spell(words):
        out, letters = [], []
        for word in words:
            for ch in word:
                letters.append(ch)
            out.append("-".join(letters))
            letters = []
        return out
    """,
    # a running total is never reset: it is an accumulator, not a buffer
    """\
    def totals(values, marks):
        running, out = 0, []
        for value in values:
            running += value
            if value in marks:
                out.append(running)
        return out
    """,
])
def test_a_buffer_that_is_flushed_after_or_on_every_pass_is_not_reported(code: str) -> None:
    assert lines(code) == []


# ---- a nested loop that repeats the outer bound ---------------------------------------------------------------------
def test_an_inner_loop_over_the_rows_again_is_reported_with_the_column_count_to_use() -> None:
    found = ours("""\
        def transpose(matrix):
            rows, cols = len(matrix), len(matrix[0])
            result = [[0] * rows for _ in range(cols)]
            for i in range(rows):
                for j in range(rows):
                    result[j][i] = matrix[i][j]
            return result


        def fill(grid, height, width):
            for y in range(height):
                for x in range(height):
                    grid[y][x] = 0


        def count(grid):
            n = len(grid)
            m = len(grid[0])
            total = 0
            for i in range(n):
                for j in range(n):
                    total += grid[i][j]
            return total
        """)
    assert [(f.line, f.suggestion) for f in found] == [(5, "for j in range(cols):"), (12, "for x in range(width):"),
                                                        (21, "for j in range(m):")]
    assert "`rows`" in found[0].message and "`cols`" in found[0].message


@pytest.mark.parametrize("code", [
    # a square input has one size
    """\
    def diagonal_total(square):
        n = len(square)
        total = 0
        for i in range(n):
            for j in range(n):
                if i == j:
                    total += square[i][j]
        return total
    """,
    # each dimension has its own bound
    """\
    def transpose(matrix):
        rows, cols = len(matrix), len(matrix[0])
        result = [[0] * rows for _ in range(cols)]
        for i in range(rows):
            for j in range(cols):
                result[j][i] = matrix[i][j]
        return result
    """,
    # two sizes of unrelated things, and pairs over one list: nothing pairs the second size with the first
    """\
    def distances(xs, ys):
        n = len(xs)
        k = len(ys)
        d = [[0] * n for _ in range(n)]
        for i in range(n):
            for j in range(n):
                d[i][j] = abs(xs[i] - xs[j])
        return d, k
    """,
])
def test_a_nested_loop_whose_bound_is_right_is_not_reported(code: str) -> None:
    assert lines(code) == []


# ---- session 34: a superlative of the measure compared, a total over a count, a total overwritten ------------------
def test_a_superlative_of_the_compared_measure_says_which_extreme_and_another_measure_says_nothing() -> None:
    keep = """
        def {name}(palette):
            best = palette[0]
            for colour in palette:
                if brightness(*colour) {op} brightness(*best):
                    best = colour
            return best
        """
    code = "def brightness(colour):\n    return sum(colour)\n" + "".join(
        textwrap.dedent(keep).format(name=name, op=op) for name, op in (("brightest", "<"), ("darkest", "<"),
                                                                          ("warmest", ">")))
    found = ours(code)
    assert [f.line for f in found] == [7]
    assert "`brightest`" in found[0].message and "largest" in found[0].message


def test_a_sum_floor_divided_by_a_count_is_a_mean_and_a_floor_by_a_constant_is_not() -> None:
    found = ours("""\
        def centroid(points):
            count = len(points)
            return (sum(p[0] for p in points) // count, sum(p[1] for p in points) // count)


        def billable_hours(minutes):
            return (minutes + 59) // 60


        def pairs(values):
            return sum(values) // 2
        """)
    assert [f.line for f in found] == [3]
    assert "mean" in found[0].message and found[0].suggestion.startswith("use true division: sum(")


def test_a_total_overwritten_on_every_pass_is_reported_and_a_search_a_last_value_or_a_real_sum_are_not() -> None:
    found = ours("""\
        def free_spaces(levels):
            total = 0
            for level in levels:
                total = level.capacity - level.used
            return total


        def last_size(files):
            size = 0
            for f in files:
                size = f.size
                if size > 10:
                    break
            size = 0
            for f in files:
                if f.name == "x":
                    size = f.size
            return size


        def grown(files):
            total = 0
            for f in files:
                total = total + f.size
            return total


        def latest(files):
            final_size = 0
            for f in files:
                final_size = f.size
            return final_size
        """)
    assert [f.line for f in found] == [4]
    assert "`total`" in found[0].message and found[0].suggestion == "accumulate: total += level.capacity - level.used"


def test_a_max_against_a_capacity_is_a_clamp_the_wrong_way_round() -> None:
    found = ours("""\
        class Bucket:
            def refill(self, amount):
                self.tokens = max(self.capacity, self.tokens + amount)
                self.peak = max(self.peak, self.tokens)
        """)
    assert [f.line for f in found] == [3]


def test_a_nearest_picked_with_max_by_distance_is_reported_and_one_picked_with_min_is_not() -> None:
    found = ours("""\
        def nearest(requests, current):
            return max(requests, key=lambda f: abs(f - current))


        def closest(points, target):
            return min(points, key=lambda p: abs(p - target))
        """)
    assert [f.line for f in found] == [2]
    assert found[0].suggestion == "use min(...)"
