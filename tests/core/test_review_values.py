"""The review's checks for values that undo or drop themselves (core/engine/review_values.py), through the analyzers
as the review runs them: each bug shape is reported at its line with a message and a suggestion, and its correct
look-alike is not."""

from __future__ import annotations

from tests.core.test_review_logic import lines, ours


# ---- both sides of an operator are one value ----------------------------------------------------------------------
def test_a_difference_of_a_value_with_itself_is_reported_as_always_zero() -> None:
    found = ours("""\
        def goal_difference(record):
            return record["scored"] - record["scored"]
        """)
    assert [f.line for f in found] == [2]
    assert "always 0" in found[0].message


def test_different_sides_doubling_squaring_and_calls_twice_are_not_reported() -> None:
    assert lines("""\
        import random


        def goal_difference(record):
            return record["scored"] - record["conceded"]


        def twice(x):
            return x + x, x * x


        def jitter():
            return random.random() - random.random()
        """) == []


# ---- a collection filled and dropped ------------------------------------------------------------------------------
def test_a_list_filled_in_a_function_that_returns_nothing_is_reported_at_its_end() -> None:
    found = ours("""\
        def overdue_titles(loans, today):
            titles = []
            for loan in loans:
                if loan["due"] < today:
                    titles.append(loan["title"])
        """)
    assert [f.line for f in found] == [5]
    assert found[0].suggestion == "return titles"


def test_a_list_returned_read_handed_on_or_built_for_a_closure_is_not_reported() -> None:
    assert lines("""\
        def returned(xs):
            out = []
            for x in xs:
                out.append(x)
            return out


        def printed(xs):
            out = []
            for x in xs:
                out.append(x)
            print(out)


        def handed_on(xs, sink):
            out = []
            sink.register(out)
            for x in xs:
                out.append(x)


        def with_closure(xs):
            seen = []

            def note(x):
                seen.append(x)
                return len(seen)
            for x in xs:
                note(x)
        """) == []


# ---- a guard that asks for more than it hands out -----------------------------------------------------------------
def test_greedy_change_and_a_token_bucket_that_refuse_exactly_enough_are_reported() -> None:
    found = ours("""\
        def change_for(amount, coins):
            given = []
            for coin in coins:
                while amount > coin:
                    given.append(coin)
                    amount -= coin
            return given


        class Bucket:
            def take(self, cost):
                if self.tokens > cost:
                    self.tokens -= cost
                    return True
                return False
        """)
    assert [f.line for f in found] == [4, 12]
    assert [f.suggestion for f in found] == ["use amount >= coin", "use self.tokens >= cost"]


def test_an_excess_over_a_limit_and_the_right_guard_are_not_reported() -> None:
    assert lines("""\
        def normalise(day, month, days_in_month):
            while day > days_in_month:
                day -= days_in_month
                month += 1
            return day, month


        def change_for(amount, coins):
            given = []
            for coin in coins:
                while amount >= coin:
                    given.append(coin)
                    amount -= coin
            return given
        """) == []


# ---- windows that stop one early ----------------------------------------------------------------------------------
def test_windows_over_range_len_minus_k_are_reported_in_a_comprehension_and_a_loop() -> None:
    found = ours("""\
        def kmers(sequence, k):
            return [sequence[i:i + k] for i in range(len(sequence) - k)]


        def windows(xs, size):
            out = []
            for i in range(len(xs) - size):
                out.append(sum(xs[i:i + size]))
            return out
        """)
    assert [f.line for f in found] == [2, 7]
    assert found[0].suggestion == "use range(len(sequence) - k + 1)"


def test_windows_with_plus_one_and_windows_read_with_their_next_element_are_not_reported() -> None:
    assert lines("""\
        def kmers(sequence, k):
            return [sequence[i:i + k] for i in range(len(sequence) - k + 1)]


        def followers(text, k):
            return {text[i:i + k]: text[i + k] for i in range(len(text) - k)}
        """) == []


# ---- a sum per key replaced on a later pass ------------------------------------------------------------------------
def test_a_total_per_key_set_in_a_nested_loop_is_reported_with_the_sum_to_use() -> None:
    found = ours("""\
        def shopping_list(recipes):
            totals = {}
            for recipe in recipes:
                for name, amount in recipe.items():
                    totals[name] = amount
            return totals
        """)
    assert [f.line for f in found] == [5]
    assert found[0].suggestion == "accumulate: totals[name] = totals.get(name, 0) + amount"


def test_a_total_per_key_that_adds_a_single_loop_and_a_count_set_once_are_not_reported() -> None:
    assert lines("""\
        def shopping_list(recipes):
            totals = {}
            for recipe in recipes:
                for name, amount in recipe.items():
                    totals[name] = totals.get(name, 0) + amount
            return totals


        def by_name(rows):
            totals = {}
            for row in rows:
                totals[row.name] = row.amount
            return totals


        def sizes(groups):
            counts = {}
            for key, members in groups:
                for member in members:
                    counts[key] = len(members)
            return counts
        """) == []
