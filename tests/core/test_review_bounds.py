"""The review's checks for bounds and values that disagree with their neighbours (core/engine/review_bounds.py),
through the analyzers as the review runs them: each bug shape is reported at its line with a message and a
suggestion, and its correct look-alike is not."""

from __future__ import annotations

from tests.core.test_review_logic import lines, ours


# ---- a slice one short of its count ---------------------------------------------------------------------------------
def test_a_slice_one_short_of_a_count_used_whole_beside_it_is_reported() -> None:
    found = ours("""\
        def first_rows(rows, n):
            for i in range(n):
                print(rows[i])
            return list(rows[:n - 1])
        """)
    assert [f.line for f in found] == [4]
    assert found[0].suggestion == "use rows[:n]"


def test_returning_a_slice_one_short_of_the_count_parameter_is_reported() -> None:
    assert lines("""\
        def cheapest(items, n):
            ordered = sorted(items)
            return ordered[:n - 1]
        """) == [3]


def test_a_clip_that_appends_an_ellipsis_and_a_cut_before_a_separator_are_not_reported() -> None:
    assert lines("""\
        def clip(text, limit):
            return text if len(text) <= limit else text[:limit - 1] + "…"


        def split_tz(text):
            pos = text.find("+") + 1
            return text[:pos - 1], text[pos:]
        """) == []


# ---- a skip past a found separator by the wrong length ------------------------------------------------------------
def test_skipping_past_a_found_separator_by_the_wrong_length_is_reported_with_its_length() -> None:
    found = ours("""\
        def host(url):
            at = url.find("://")
            return url[at + 2:]
        """)
    assert [f.line for f in found] == [3]
    assert found[0].suggestion.startswith("use url[at + 3:]")


def test_the_right_skip_and_a_list_element_skip_are_not_reported() -> None:
    assert lines("""\
        def host(url):
            at = url.find("://")
            return url[at + 3:]


        def after_dashes(words):
            cut = words.index("--")
            return words[cut + 1:]
        """) == []


# ---- a loop that stops one before the end -------------------------------------------------------------------------
def test_range_len_minus_one_that_reads_only_the_current_element_is_reported() -> None:
    found = ours("""\
        def total(prices):
            s = 0
            for i in range(len(prices) - 1):
                s += prices[i]
            return s
        """)
    assert [f.line for f in found] == [3]
    assert found[0].suggestion == "use range(len(prices))"


def test_a_loop_over_neighbouring_pairs_is_not_reported() -> None:
    assert lines("""\
        def rises(prices):
            out = []
            for i in range(len(prices) - 1):
                out.append(prices[i + 1] - prices[i])
            return out
        """) == []


# ---- a clamp with min and max mixed up ------------------------------------------------------------------------------
def test_max_against_a_cap_is_reported_as_a_min_max_mix_up() -> None:
    found = ours("""\
        def backoff(attempt, base=0.5, cap=30.0):
            return max(base * 2 ** attempt, cap)
        """)
    assert [f.line for f in found] == [2]
    assert found[0].suggestion == "use min(...)"


def test_min_against_a_cap_and_a_running_maximum_are_not_reported() -> None:
    assert lines("""\
        def backoff(attempt, base=0.5, cap=30.0):
            return min(base * 2 ** attempt, cap)


        def widest(lines):
            max_width = 0
            for line in lines:
                max_width = max(max_width, len(line))
            return max_width
        """) == []


# ---- defaults that contradict each other or give no time -------------------------------------------------------------
def test_crossed_start_and_end_defaults_and_a_zero_timeout_default_are_reported() -> None:
    found = ours("""\
        def working_day(start_hour=9, end_hour=5):
            return start_hour, end_hour


        def fetch(get, url, timeout=0):
            return get(url, timeout=timeout)
        """)
    assert [f.line for f in found] == [1, 5]
    assert "`end_hour`" in found[0].suggestion and "timeout=None" in found[1].suggestion


def test_ordered_defaults_and_a_zero_timeout_on_a_poll_are_not_reported() -> None:
    assert lines("""\
        def working_day(start_hour=9, end_hour=17):
            return start_hour, end_hour


        def poll(conn, timeout=0):
            return conn.ready(timeout)
        """) == []


# ---- a sum built and never used ------------------------------------------------------------------------------------
def test_a_total_summed_in_a_loop_and_never_read_is_reported() -> None:
    found = ours("""\
        def order_total(items):
            total = 0
            for item in items:
                total += item.price
            return item.price
        """)
    assert [f.line for f in found] == [4]
    assert found[0].suggestion == "return total (or drop it)"


def test_a_buffer_read_inside_its_loop_and_a_returned_total_are_not_reported() -> None:
    assert lines("""\
        def order_total(items):
            total = 0
            for item in items:
                total += item.price
            return total


        def digits_then_rest(text):
            number = ""
            for ch in text:
                if not ch.isdigit():
                    return int(number or 0), text[len(number):]
                number += ch
            return int(number or 0), ""
        """) == []


# ---- a neighbour's row with the cell's own column -------------------------------------------------------------------
def test_a_neighbour_index_that_mixes_moved_and_unmoved_coordinates_is_reported() -> None:
    found = ours("""\
        def neighbours(grid, r, c):
            total = 0
            for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)):
                nr, nc = r + dr, c + dc
                total += grid[nr][c]
            return total
        """)
    assert [f.line for f in found] == [5]
    assert found[0].suggestion == "use `grid[nr][nc]`"


def test_a_neighbour_index_with_both_moved_coordinates_is_not_reported() -> None:
    assert lines("""\
        def neighbours(grid, r, c):
            total = 0
            for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)):
                nr, nc = r + dr, c + dc
                total += grid[nr][nc] + grid[r][c]
            return total
        """) == []


# ---- a connection never closed ---------------------------------------------------------------------------------------
def test_a_connection_opened_and_never_closed_is_reported() -> None:
    found = ours("""\
        import sqlite3


        def save(path, row):
            conn = sqlite3.connect(path)
            conn.execute("INSERT INTO t VALUES (?)", (row,))
            conn.commit()
        """)
    assert [f.line for f in found] == [5]
    assert "closing" in found[0].suggestion


def test_connections_closed_returned_or_used_in_with_are_not_reported() -> None:
    assert lines("""\
        import contextlib
        import sqlite3


        def save(path, row):
            conn = sqlite3.connect(path)
            try:
                conn.execute("INSERT INTO t VALUES (?)", (row,))
            finally:
                conn.close()


        def open_db(path):
            conn = sqlite3.connect(path)
            return conn


        def load(path):
            conn = sqlite3.connect(path)
            with contextlib.closing(conn):
                return conn.execute("SELECT 1").fetchall()
        """) == []
