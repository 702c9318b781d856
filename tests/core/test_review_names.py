"""The review's checks of a function's name against its body and of a value written back unchanged
(core/engine/review_names.py), through the analyzers as the review runs them: each shape is reported at its line,
and its correct look-alike is not."""

from __future__ import annotations

import textwrap

from edgemind.core.engine.review_analyzers import analyze
from edgemind.core.engine.review_findings import AST_SOURCE, Finding


def ours(code: str) -> list[Finding]:
    report = analyze(textwrap.dedent(code), "reviewed.py", ruff=None)
    return [f for f in report.findings if f.source == AST_SOURCE]


def test_a_top_n_that_sorts_ascending_and_keeps_the_head_is_reported_and_a_descending_one_is_not() -> None:
    found = ours("""\
        def top_sellers(items, n):
            ranked = sorted(items, key=lambda item: item.sold)
            return ranked[:n]


        def most_viewed(pages, n):
            return sorted(pages, key=len, reverse=True)[:n]


        def cheapest(offers, n):
            return sorted(offers, key=lambda o: o.price)[:n]


        def lowest_scores(scores, n):
            return sorted(scores, reverse=True)[:n]
        """)
    assert [f.line for f in found] == [2, 15]
    assert "ascending" in found[0].message and found[0].suggestion == "sort with reverse=True"
    assert "descending" in found[1].message and found[1].suggestion == "sort with reverse=False"


def test_has_with_all_and_all_with_any_are_reported_and_the_matching_quantifiers_are_not() -> None:
    found = ours("""\
        def has_errors(rows):
            return all(row.error for row in rows)


        def all_ready(workers):
            return any(w.ready for w in workers)


        def has_all_fields(record, fields):
            return all(f in record for f in fields)


        def any_empty(rows):
            return any(not row for row in rows)


        def has_safe_repr(value):
            return all(has_safe_repr(item) for item in value)


        class Strategy:
            def has_reusable_values(self):
                return all(e.reusable for e in self.elements)
        """)
    assert [(f.line, f.suggestion) for f in found] == [(2, "use any(...)"), (6, "use all(...)")]


def test_a_character_test_for_another_class_than_the_name_says_is_reported() -> None:
    found = ours("""\
        def has_upper(text):
            return any(c.islower() for c in text)


        def has_digit(text):
            return any(c.isdigit() for c in text)


        def count_lower(text):
            return sum(1 for c in text if c.islower() or c.isspace())


        def parse_decimal(text):
            return int(text) if text.isdigit() else None
        """)
    assert [(f.line, f.suggestion) for f in found] == [(2, "use .isupper()")]


def test_a_value_written_back_unchanged_is_reported_and_an_updated_one_is_not() -> None:
    found = ours("""\
        def unique(names):
            seen = {}
            out = []
            for name in names:
                count = seen.get(name, 0)
                seen[name] = count
                out.append(f"{name}-{count}")
            for name in names:
                count = seen.get(name, 0)
                count += 1
                seen[name] = count
            for name in names:
                total = seen[name]
                seen[name] = total + 1
            for name in names:
                handlers = seen.get(name, {})
                seen[name] = handlers
            return out
        """)
    assert [f.line for f in found] == [6]
    assert "unchanged" in found[0].message


def test_the_larger_of_a_floor_and_a_limit_is_no_clamp() -> None:
    assert not ours("""\
        def size_floor(min_size, validator):
            return max(min_size, validator.limit_value)
        """)
