"""Training data for `edgemind tune`: every way a JSONL file can be wrong is refused with one line naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgemind.core.errors import TuneDataError
from edgemind.core.tuning.data import MIN_EXAMPLES, Example, Message, read_jsonl, split


def write(tmp_path: Path, *lines: str, raw: bytes | None = None) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_bytes(raw if raw is not None else ("\n".join(lines) + "\n").encode())
    return path


def refused(path: Path) -> str:
    with pytest.raises(TuneDataError) as caught:
        read_jsonl(path)
    message = str(caught.value)
    assert "\n" not in message
    return message


GOOD = json.dumps({"prompt": "What is our codename?", "answer": "Quillfeather."})


def test_chat_and_prompt_answer_lines_read_as_the_same_example(tmp_path: Path) -> None:
    chat = json.dumps({"messages": [{"role": "system", "content": "Be brief."},
                                    {"role": "user", "content": "What is our codename?"},
                                    {"role": "assistant", "content": "Quillfeather."}]})
    examples = read_jsonl(write(tmp_path, GOOD, "", chat))
    assert examples[0] == Example((Message("user", "What is our codename?"),), "Quillfeather.", 1)
    assert examples[1].messages[0] == Message("system", "Be brief.") and examples[1].answer == "Quillfeather."
    assert examples[1].line == 3  # blank lines are skipped but still counted: errors name the line a user sees


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    assert "does not exist" in refused(tmp_path / "nope.jsonl")


def test_a_line_that_is_not_json_is_named_by_its_number(tmp_path: Path) -> None:
    message = refused(write(tmp_path, GOOD, GOOD, "{not json"))
    assert "line 3" in message and "not JSON" in message


def test_a_file_that_is_not_utf8_is_named_by_its_line(tmp_path: Path) -> None:
    message = refused(write(tmp_path, raw=GOOD.encode() + b"\n\xff\xfe\n"))
    assert "line 2" in message and "UTF-8" in message


@pytest.mark.parametrize("line, says", [
    ("[1, 2]", "expected an object"),
    ('{"text": "hello"}', '"messages"'),
    ('{"prompt": "Hi"}', '"answer" must be non-empty text'),
    ('{"prompt": "Hi", "answer": "  "}', '"answer" must be non-empty text'),
    ('{"prompt": 3, "answer": "x"}', '"prompt" must be non-empty text'),
    ('{"messages": "hi"}', "must be a list"),
    ('{"messages": [{"role": "user", "content": "Hi"}]}', "must be a list of at least"),
    ('{"messages": [{"role": "user", "content": "Hi"}, {"role": "robot", "content": "x"}]}', "role 'robot'"),
    ('{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant"}]}', 'no text "content"'),
    ('{"messages": [{"role": "assistant", "content": "Hi"}, {"role": "user", "content": "x"}]}', "last message"),
    ('{"messages": [{"role": "system", "content": "S"}, {"role": "assistant", "content": "x"}]}', "no user message"),
])
def test_a_line_of_the_wrong_shape_is_named_with_what_is_wrong(tmp_path: Path, line: str, says: str) -> None:
    message = refused(write(tmp_path, GOOD, line))
    assert message.startswith("data.jsonl line 2: ") and says in message


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    assert "no examples" in refused(write(tmp_path, "", "   "))


def test_too_few_examples_are_refused_before_anything_trains() -> None:
    examples = [Example.from_prompt(f"q{i}", "a") for i in range(MIN_EXAMPLES - 1)]
    with pytest.raises(TuneDataError, match="too few examples: 3"):
        split(examples)


def test_the_held_out_split_keeps_at_least_one_and_is_the_same_for_the_same_seed() -> None:
    examples = [Example.from_prompt(f"q{i}", "a") for i in range(20)]
    train, held = split(examples, 0.15, seed=7)
    assert (len(train), len(held)) == (17, 3) and not set(train) & set(held)
    assert split(examples, 0.15, seed=7) == (train, held)
    assert split(examples, 0.15, seed=8) != (train, held)
    small_train, small_held = split(examples[:MIN_EXAMPLES], 0.15)
    assert (len(small_train), len(small_held)) == (MIN_EXAMPLES - 1, 1)
