"""The labelled-prompt classifier routing and safety share: labelled JSON-lines files, softmax regression with a
nearest-neighbour vote, cached weight files and merged policy files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from edgemind.core.classify.labelled import LabelledPrompt, LabelSet, read_labelled
from edgemind.core.classify.model_file import content_key, save_arrays
from edgemind.core.classify.policy_file import PolicySource, config_error, read_policy, require
from edgemind.core.classify.softmax import Fit, SplitRows, Vote, blend, fit_softmax, softmax, vote
from edgemind.core.errors import ConfigError

ANIMALS = LabelSet(key="kind", labels=("cat", "dog"), categories=("small", "big"), categorised=("dog",))


def _lines(path: Path, *rows: object) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


# ---- labelled files -------------------------------------------------------------------------------------------------
def test_a_labelled_file_reads_prompt_label_category_and_language(tmp_path: Path) -> None:
    data = _lines(tmp_path / "pets.jsonl", {"prompt": "meow", "kind": "cat", "lang": "en"}, "",
                  {"prompt": "woof", "kind": "dog", "category": "big"})
    assert read_labelled(data, ANIMALS) == [LabelledPrompt("meow", "cat", None, "en"),
                                            LabelledPrompt("woof", "dog", "big", "")]


@pytest.mark.parametrize(("line", "message"), [
    ('{"prompt": "woof", "kind": "dog"', r"pets\.jsonl:2: not JSON"),
    ('["woof", "dog"]', r"pets\.jsonl:2: expected a JSON object, got list"),
    ('{"prompt": "  ", "kind": "cat"}', r"pets\.jsonl:2: expected a non-empty \"prompt\" string"),
    ('{"prompt": "tweet", "kind": "bird"}', r"pets\.jsonl:2: kind 'bird' is not one of cat, dog"),
    ('{"prompt": "tweet", "label": "cat"}', r"pets\.jsonl:2: kind None is not one of cat, dog"),
    ('{"prompt": "woof", "kind": "dog"}', r"pets\.jsonl:2: category None is not one of small, big"),
    ('{"prompt": "woof", "kind": "dog", "category": "huge"}', r"pets\.jsonl:2: category 'huge' is not one of"),
])
def test_a_malformed_line_is_one_config_error_naming_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    data = _lines(tmp_path / "pets.jsonl", {"prompt": "meow", "kind": "cat"}, line)
    with pytest.raises(ConfigError, match=message) as caught:
        read_labelled(data, ANIMALS)
    assert "\n" not in str(caught.value) and str(caught.value).startswith(str(data))


def test_a_label_without_examples_is_an_error_only_where_every_label_is_needed(tmp_path: Path) -> None:
    data = _lines(tmp_path / "pets.jsonl", {"prompt": "meow", "kind": "cat"})
    assert len(read_labelled(data, ANIMALS)) == 1
    every = LabelSet(key="kind", labels=("cat", "dog", "eel"), every_label=True)
    with pytest.raises(ConfigError, match=r"pets\.jsonl: every kind needs examples; none for dog, eel"):
        read_labelled(data, every)


def test_a_file_without_categories_ignores_a_category_field(tmp_path: Path) -> None:
    data = _lines(tmp_path / "pets.jsonl", {"prompt": "meow", "kind": "cat", "category": "anything"})
    assert read_labelled(data, LabelSet(key="kind", labels=("cat",))) == [LabelledPrompt("meow", "cat")]


def test_an_unreadable_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.jsonl: cannot read"):
        read_labelled(tmp_path / "missing.jsonl", ANIMALS)


# ---- softmax regression ---------------------------------------------------------------------------------------------
def _blobs(per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated classes of unit rows in 16 dimensions: each near its own axis."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), per_class)
    x = np.eye(16)[labels] * 3 + rng.normal(0, 0.4, (len(labels), 16))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), labels


@pytest.mark.parametrize("rows", [False, True], ids=["columns", "rows"])
def test_both_solvers_learn_a_separable_set_and_generalise_to_new_points(rows: bool) -> None:
    x, y = _blobs(20, seed=0)
    w, b = fit_softmax(x, y, 3, Fit(l2=1e-4, steps=300, learning_rate=1.0, rows=rows))
    assert w.shape == (16, 3) and b.shape == (3,) and w.dtype == np.float32
    new, truth = _blobs(30, seed=1)
    probabilities = softmax(new @ w + b)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert (probabilities.argmax(axis=1) == truth).mean() == 1.0


def test_fitting_is_deterministic() -> None:
    x, y = _blobs(10, seed=2)
    fit = Fit(l2=1e-3, steps=50, learning_rate=0.5)
    first, again = fit_softmax(x, y, 3, fit), fit_softmax(x, y, 3, fit)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])


def test_a_class_with_no_rows_is_never_predicted() -> None:
    x, y = _blobs(10, seed=3)
    w, b = fit_softmax(x, y, 4, Fit(l2=1e-4, steps=200, learning_rate=1.0))
    assert (softmax(x @ w + b).argmax(axis=1) != 3).all()


def _split(seed: int) -> tuple[SplitRows, np.ndarray, np.ndarray]:
    """Blobs as a dense part next to a sparse tail of hashed-n-gram-like columns (a few filled per row, one column
    per class among them), with the same rows as one plain array."""
    x, y = _blobs(12, seed)
    rng = np.random.default_rng(seed)
    tail = np.zeros((len(x), 500), np.float32)
    for r, label in enumerate(y):
        tail[r, rng.choice(500, 6, replace=False)] = rng.uniform(0.1, 0.4, 6)
        tail[r, 10 + label] = 0.5
    return SplitRows(x, sparse.csr_matrix(tail)), np.hstack([x, tail]), y


def test_split_rows_read_as_the_plain_matrix_they_stand_for() -> None:
    split, plain, _ = _split(seed=4)
    assert split.shape == plain.shape and len(split) == len(plain)
    w = np.random.default_rng(5).normal(size=(plain.shape[1], 3)).astype(np.float32)
    assert np.allclose(split @ w, plain @ w, atol=1e-5)
    assert np.allclose(split.gram(), plain @ plain.T, atol=1e-5)
    a = np.random.default_rng(6).normal(size=(len(plain), 2)).astype(np.float32)
    assert np.allclose(split.transposed_times(a), plain.T @ a, atol=1e-5)
    picked = np.zeros(len(plain), bool)
    picked[[0, 7, 20]] = True
    assert np.array_equal(split[picked].dense, plain[picked, :16])
    assert np.array_equal(split[np.array([20, 0])].tail.toarray(), plain[[20, 0], 16:])


def test_fitting_split_rows_gives_the_plain_matrix_weights_up_to_float32_rounding() -> None:
    split, plain, y = _split(seed=7)
    fit = Fit(l2=1e-3, steps=200, learning_rate=1.0, rows=True)
    w_split, b_split = fit_softmax(split, y, 3, fit)
    w_plain, b_plain = fit_softmax(plain, y, 3, fit)
    assert w_split.shape == w_plain.shape and w_split.dtype == np.float32
    assert np.abs(w_split - w_plain).max() < 1e-4 and np.abs(b_split - b_plain).max() < 1e-4
    assert (softmax(split @ w_split + b_split).argmax(axis=1) == y).all()


def test_split_rows_need_the_row_space_solver() -> None:
    split, _, y = _split(seed=8)
    with pytest.raises(ValueError, match="rows=True"):
        fit_softmax(split, y, 3, Fit(l2=1e-3, steps=5, learning_rate=1.0))


# ---- the neighbour vote ---------------------------------------------------------------------------------------------
MEMORY = np.array([[1, 0], [0.8, 0.6], [0, 1], [-1, 0]], np.float32)
MEMORY_LABELS = np.array([0, 1, 1, 0])


def test_the_vote_counts_the_nearest_rows_weighted_by_cosine() -> None:
    shares, nearest = vote(np.array([[1, 0]], np.float32), MEMORY, MEMORY_LABELS, 2, Vote(neighbours=2, share=0.5))
    # nearest two: [1, 0] (cosine 1.0, class 0) and [0.8, 0.6] (0.8, class 1); [0, 1] and [-1, 0] do not vote
    assert np.allclose(shares, [[1 / 1.8, 0.8 / 1.8]]) and np.allclose(nearest, [1.0])


def test_a_sharp_vote_lets_the_closest_row_decide() -> None:
    shares, _ = vote(np.array([[1, 0]], np.float32), MEMORY, MEMORY_LABELS, 2, Vote(2, 0.5, sharpness=50.0))
    assert shares[0, 0] > 0.99


def test_a_tied_vote_splits_evenly_and_one_row_and_a_batch_agree() -> None:
    row = np.array([[0.6, 0.8]], np.float32)  # closer to [0, 1] (class 1) than to [1, 0] (class 0)
    tied = np.array([[np.sqrt(0.5), np.sqrt(0.5)]], np.float32)
    memory = np.array([[1, 0], [0, 1]], np.float32)
    shares, _ = vote(tied, memory, np.array([0, 1]), 2, Vote(neighbours=2, share=0.5))
    assert np.allclose(shares, [[0.5, 0.5]])
    batch, _ = vote(np.vstack([tied, row]), memory, np.array([0, 1]), 2, Vote(neighbours=2, share=0.5))
    alone, _ = vote(row, memory, np.array([0, 1]), 2, Vote(neighbours=2, share=0.5))
    assert np.allclose(batch[1], alone[0]) and alone[0, 1] > alone[0, 0]


def test_more_neighbours_than_memory_rows_means_all_of_them_vote() -> None:
    shares, _ = vote(np.array([[1, 0]], np.float32), MEMORY[:2], MEMORY_LABELS[:2], 3, Vote(neighbours=15, share=0.3))
    assert shares.shape == (1, 3) and np.allclose(shares, [[1 / 1.8, 0.8 / 1.8, 0.0]])


def test_blend_mixes_by_the_votes_share() -> None:
    regression, votes = np.array([[0.9, 0.1]]), np.array([[0.0, 1.0]])
    assert np.allclose(blend(regression, votes, Vote(5, share=0.0)), regression)
    assert np.allclose(blend(regression, votes, Vote(5, share=0.25)), [[0.675, 0.325]])


# ---- cached weights -------------------------------------------------------------------------------------------------
def test_the_content_key_changes_with_every_part_and_never_runs_parts_together() -> None:
    key = content_key(b"training data", "settings")
    assert len(key) == 24 and key == content_key(b"training data", "settings")
    assert key != content_key(b"training data!", "settings") and key != content_key(b"training data", "settings2")
    assert content_key("ab", "c") != content_key("a", "bc")


def test_saved_arrays_read_back_and_replace_older_files_only_when_asked(tmp_path: Path) -> None:
    (tmp_path / "model-old.npz").write_bytes(b"stale")
    (tmp_path / "other.npz").write_bytes(b"not ours")
    path = tmp_path / "model-new.npz"
    save_arrays(path, {"w": np.arange(3, dtype=np.float32)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model-new.npz", "model-old.npz", "other.npz"]
    save_arrays(path, {"w": np.arange(3, dtype=np.float32)}, stale="model-*.npz")
    with np.load(path) as data:
        assert data["w"].tolist() == [0.0, 1.0, 2.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model-new.npz", "other.npz"]


# ---- policy files ---------------------------------------------------------------------------------------------------
def _no_colour(data: object, source: PolicySource) -> None:
    if "colour" in data:  # type: ignore[operator]
        raise config_error(source, "colour", "unknown key")


def test_a_policy_merges_the_users_file_over_the_shipped_one_and_knows_which_set_a_key(tmp_path: Path) -> None:
    base = _lines(tmp_path / "base.toml", 'level = "standard"', "[limits]", "low = 1", "high = 9")
    user = _lines(tmp_path / "user.toml", "[limits]", "high = 5")
    policy = read_policy(base, user, "test policy", _no_colour)
    assert policy.data == {"level": "standard", "limits": {"low": 1, "high": 5}}
    assert policy.source_of("limits").path == user and policy.source_of("level").path == base
    assert policy.source_of("absent").path == base
    assert policy.files[0][0]["limits"]["high"] == 9  # merging left the shipped file's table as read
    assert read_policy(base, tmp_path / "none.toml", "test policy", _no_colour).data["limits"]["high"] == 9


def test_a_bad_key_is_reported_in_the_file_that_has_it(tmp_path: Path) -> None:
    base = _lines(tmp_path / "base.toml", 'level = "standard"')
    user = _lines(tmp_path / "user.toml", 'level = "strict"', 'colour = "red"')
    with pytest.raises(ConfigError, match=r"user\.toml:2: colour: unknown key"):
        read_policy(base, user, "test policy", _no_colour)


def test_a_missing_key_after_merging_names_the_policy_and_the_key() -> None:
    assert require({"a": 1}, "a", "test policy", "[a]") == 1
    with pytest.raises(ConfigError, match=r"^test policy: limits\.high is missing$"):
        require({}, "high", "test policy", "limits.high")
