"""The review's checks for conditions that cannot mean what they say (core/engine/review_conditions.py), through the
analyzers as the review runs them: each bug shape is reported at its line with a message and a suggestion, and its
correct look-alike is not."""

from __future__ import annotations

from tests.core.test_review_logic import lines, ours


# ---- a range test joined with `or`, an outside test joined with `and` ----------------------------------------------
def test_a_range_test_joined_with_or_is_true_for_every_value_and_is_reported_with_and_as_the_fix() -> None:
    found = ours("""\
        MAX_WEIGHT = 30


        def is_shippable(weight):
            return weight > 0 or weight <= MAX_WEIGHT
        """)
    assert [f.line for f in found] == [5]
    assert "true for every `weight`" in found[0].message and "`and`" in found[0].suggestion


def test_an_outside_test_joined_with_and_is_never_true_and_is_reported() -> None:
    assert lines("""\
        def out_of_range(x, low, high):
            return x > high and x < low
        """) == [2]


def test_the_correct_outside_test_a_union_of_chained_ranges_and_unknown_bounds_are_not_reported() -> None:
    assert lines("""\
        def outside(x, low, high):
            return x < low or x > high


        def valid_char(code):
            return 0 <= code <= 0xD7FF or 0xE000 <= code <= 0x10FFFF


        def either(x, a, b):
            return x > a or x < b


        def inside(x):
            return x > 0 and x <= 10
        """) == []


# ---- a None guard that dereferences what it just found None ---------------------------------------------------------
def test_a_none_guard_joined_with_and_that_then_reads_an_attribute_is_reported_as_inverted() -> None:
    found = ours("""\
        def label(user):
            if user is None and user.name:
                return user.name
            return "anonymous"
        """)
    assert [f.line for f in found] == [2]
    assert found[0].suggestion.startswith("use `user is not None and")


def test_the_right_none_guards_are_not_reported() -> None:
    assert lines("""\
        def label(user):
            if user is not None and user.name:
                return user.name
            if user is None or not user.name:
                return "anonymous"
            return user.name
        """) == []


# ---- a predicate whose name says the opposite of its test ----------------------------------------------------------
def test_a_predicate_named_for_small_that_tests_larger_is_reported_with_the_comparison_to_use() -> None:
    found = ours("""\
        def is_too_short(text, minimum=8):
            return len(text) > minimum
        """)
    assert [f.line for f in found] == [2]
    assert found[0].suggestion == "compare the other way: len(text) < minimum"


def test_is_empty_that_is_true_for_a_non_empty_list_is_reported() -> None:
    assert lines("""\
        def is_empty(items):
            return len(items) > 0
        """) == [2]


def test_predicates_whose_test_agrees_with_their_name_or_whose_name_is_negated_are_not_reported() -> None:
    assert lines("""\
        def is_too_long(text, limit=80):
            return len(text) > limit


        def is_empty(items):
            return len(items) == 0


        def is_not_empty(items):
            return len(items) > 0


        def short_names(names):
            return [n for n in names if len(n) > 3]
        """) == []


# ---- an if ladder whose later rung can never be reached -------------------------------------------------------------
def test_a_ladder_whose_wider_rung_comes_first_is_reported_once_at_that_rung() -> None:
    found = ours("""\
        def parcel_size(weight):
            if weight < 10:
                return "large"
            if weight < 5:
                return "medium"
            if weight < 1:
                return "small"
            return "freight"
        """)
    assert [f.line for f in found] == [2]
    assert "line 4" in found[0].message and "lower threshold first" in found[0].suggestion


def test_a_ladder_in_the_right_order_and_ifs_that_do_not_leave_are_not_reported() -> None:
    assert lines("""\
        def parcel_size(weight):
            if weight < 1:
                return "small"
            elif weight < 5:
                return "medium"
            return "large"


        def labels(weight):
            out = []
            if weight > 5:
                out.append("heavy")
            if weight > 20:
                out.append("two people")
            return out
        """) == []


# ---- a function named for taking away that adds ---------------------------------------------------------------------
def test_a_withdraw_that_adds_its_amount_is_reported_with_the_operator_to_use() -> None:
    found = ours("""\
        class Account:
            def withdraw(self, amount):
                self.balance += amount
        """)
    assert [f.line for f in found] == [3]
    assert found[0].suggestion == "use `-=` instead of `+=`"


def test_a_withdraw_that_subtracts_and_a_deposit_that_adds_are_not_reported() -> None:
    assert lines("""\
        class Account:
            def withdraw(self, amount):
                self.balance -= amount
                self.count += 1

            def deposit(self, amount):
                self.balance += amount
        """) == []


# ---- a box test or an interval overlap joined with `or` ------------------------------------------------------------
def test_a_box_test_and_an_interval_overlap_joined_with_or_are_reported_with_and_as_the_fix() -> None:
    found = ours("""\
        def contains(box, point):
            left, top, right, bottom = box
            return left <= point[0] <= right or top <= point[1] <= bottom


        def overlaps(a_start, a_end, b_start, b_end):
            return a_start < b_end or b_start < a_end
        """)
    assert [f.line for f in found] == [3, 7]
    assert {f.suggestion for f in found} == {"join the range tests with `and`", "join the comparisons with `and`"}


def test_a_union_of_ranges_of_one_value_the_and_forms_and_one_interval_s_own_ends_are_not_reported() -> None:
    assert lines("""\
        def is_letter(c):
            return "a" <= c <= "z" or "A" <= c <= "Z"


        def contains(box, point):
            left, top, right, bottom = box
            return left <= point[0] <= right and top <= point[1] <= bottom


        def overlaps(a_start, a_end, b_start, b_end):
            return a_start < b_end and b_start < a_end


        def broken(span):
            return span.start > span.end or span.end < 0
        """) == []


def test_is_dark_that_is_true_for_the_brighter_colours_is_reported_and_the_right_test_is_not() -> None:
    assert lines("""\
        def is_dark(red, green, blue):
            return (299 * red + 587 * green + 114 * blue) // 1000 > 128


        def is_bright(level):
            return level > 200
        """) == [2]
