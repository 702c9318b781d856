"""The word-problem benchmark's splits: fixed across runs, answers never echoed by their prompt, templates of one split
never reused by another (a held-out split must not be a dev split with other numbers)."""

from __future__ import annotations

import re

import pytest

from edgemind.core.bench.word_problems import SPLITS, is_correct, numbers_in, problems


@pytest.mark.parametrize("split", SPLITS)
def test_a_split_is_the_same_on_every_call_and_no_answer_is_in_its_prompt(split: str) -> None:
    first, second = problems(split), problems(split)
    assert [(p.id, p.prompt, p.answer) for p in first] == [(p.id, p.prompt, p.answer) for p in second]
    assert len({p.id for p in first}) == len(first)
    for p in first:
        assert p.answer not in numbers_in(p.prompt), p.prompt
        assert is_correct(f"The answer is {p.answer_text()}.", p.answer)
        wrong = p.answer * 101 / 100 + 1  # off by more than rounding
        assert not is_correct(f"The answer is {float(wrong)}.", p.answer)


@pytest.mark.parametrize("split", [s for s in SPLITS if s.startswith("heldout")])
def test_a_held_out_split_has_twenty_templates_of_three_problems_each(split: str) -> None:
    ids = [p.id for p in problems(split)]
    assert len(ids) == 60
    assert len({re.sub(r"-\d+$", "", i) for i in ids}) == 20


def test_the_splits_share_no_template_and_no_prompt() -> None:
    def templates(split: str) -> set[str]:
        return {re.sub(r"-\d+$", "", p.id.split("-", 1)[1]) for p in problems(split)}

    names = {split: templates(split) for split in SPLITS}
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1:]:
            assert not names[a] & names[b], (a, b)
    prompts = [p.prompt for split in SPLITS for p in problems(split)]
    assert len(prompts) == len(set(prompts))


def test_every_problem_has_a_known_category() -> None:
    categories = {"units", "percent", "rates", "money", "dates", "factorial", "other"}
    assert {p.category for split in SPLITS for p in problems(split)} <= categories
