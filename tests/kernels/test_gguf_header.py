"""The GGUF header reader: reads real models, and turns every kind of junk into one clean GGUFFormatError."""

from __future__ import annotations

import struct
from pathlib import Path

import gguf
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgemind.kernels.gguf_header import GGML_BLOCK_SIZES, GGUFFormatError, read_gguf_header


def write_small_gguf(path: Path, *, arch: str = "llama", template: str | None = "{{ messages }}") -> Path:
    """A real, tiny GGUF written with the reference `gguf` package."""
    w = gguf.GGUFWriter(str(path), arch)
    w.add_context_length(2048)
    w.add_name("tiny-test")
    if template is not None:
        w.add_chat_template(template)
    w.add_tensor("token_embd.weight", np.arange(64 * 8, dtype=np.float32).reshape(64, 8))
    w.add_tensor("output.weight", np.ones((8, 32), dtype=np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_block_size_table_matches_the_reference_gguf_package() -> None:
    reference = {int(t): sizes for t, sizes in gguf.GGML_QUANT_SIZES.items()}
    for ggml_type, sizes in GGML_BLOCK_SIZES.items():
        assert reference[ggml_type] == sizes, f"type {ggml_type}"


def test_reads_the_bundled_tiny_model(models_dir: Path) -> None:
    header = read_gguf_header(models_dir / "smollm2-135m-instruct-q4_1.gguf")
    assert header.version == 3
    assert header.architecture == "llama"
    assert header.context_length == 8192
    assert "<|im_start|>" in (header.chat_template or "")
    assert header.tensor_count == 272
    assert header.data_end == header.file_size  # tensors end exactly at the end of the file


def test_reads_a_file_written_by_the_reference_writer(tmp_path: Path) -> None:
    header = read_gguf_header(write_small_gguf(tmp_path / "m.gguf", arch="qwen2"))
    assert (header.architecture, header.context_length, header.name) == ("qwen2", 2048, "tiny-test")
    assert header.chat_template == "{{ messages }}"
    assert header.tensor_count == 2
    assert header.data_end <= header.file_size


def test_a_text_file_is_not_gguf(tmp_path: Path) -> None:
    p = tmp_path / "notes.gguf"
    p.write_text("hello, I am not a model")
    with pytest.raises(GGUFFormatError, match="not a GGUF file"):
        read_gguf_header(p)


@pytest.mark.parametrize("keep", [0, 3, 4, 8, 20, 100])
def test_a_file_cut_inside_the_header_is_reported(tmp_path: Path, keep: int) -> None:
    src = write_small_gguf(tmp_path / "m.gguf").read_bytes()
    p = tmp_path / "cut.gguf"
    p.write_bytes(src[:keep])
    with pytest.raises(GGUFFormatError):
        read_gguf_header(p)


def test_a_file_cut_inside_the_tensor_data_is_reported_as_truncated(tmp_path: Path) -> None:
    src = write_small_gguf(tmp_path / "m.gguf").read_bytes()
    p = tmp_path / "cut.gguf"
    p.write_bytes(src[:-100])
    with pytest.raises(GGUFFormatError, match="truncated"):
        read_gguf_header(p)


def test_an_unknown_version_is_rejected(tmp_path: Path) -> None:
    p = tmp_path / "v9.gguf"
    p.write_bytes(b"GGUF" + struct.pack("<IQQ", 9, 1, 0))
    with pytest.raises(GGUFFormatError, match="version 9"):
        read_gguf_header(p)


def test_absurd_counts_are_rejected_before_any_allocation(tmp_path: Path) -> None:
    p = tmp_path / "huge.gguf"
    p.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 1, 2**62))
    with pytest.raises(GGUFFormatError, match="not a real model"):
        read_gguf_header(p)


def test_a_huge_declared_string_is_rejected(tmp_path: Path) -> None:
    p = tmp_path / "str.gguf"
    p.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 1, 1) + struct.pack("<Q", 2**40) + b"x" * 10)
    with pytest.raises(GGUFFormatError, match="does not fit"):
        read_gguf_header(p)


def test_missing_file_and_folder_are_named(tmp_path: Path) -> None:
    with pytest.raises(GGUFFormatError, match="does not exist"):
        read_gguf_header(tmp_path / "nope.gguf")
    with pytest.raises(GGUFFormatError, match="is a folder"):
        read_gguf_header(tmp_path)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.binary(max_size=400), at=st.integers(min_value=0, max_value=400))
def test_random_damage_gives_only_clean_errors(tmp_path: Path, junk: bytes, at: int) -> None:
    """Fuzz: a valid file with random bytes spliced in either parses or raises GGUFFormatError, nothing else."""
    base = tmp_path / "base.gguf"
    if not base.exists():
        write_small_gguf(base)
    data = bytearray(base.read_bytes())
    data[at:at + len(junk)] = junk
    p = tmp_path / "fuzz.gguf"
    p.write_bytes(bytes(data))
    try:
        read_gguf_header(p)
    except GGUFFormatError as exc:
        assert "\n" not in str(exc)


def _with_vocabulary(path: Path, tokens: list[str]) -> Path:
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_token_list(tokens)
    w.add_context_length(2048)
    w.add_tensor("token_embd.weight", np.ones((4, 8), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_a_vocabulary_is_walked_past_unread_and_read_whole_when_asked(tmp_path: Path) -> None:
    tokens = ["<s>", "héllo", "", "x" * 300]
    path = _with_vocabulary(tmp_path / "v.gguf", tokens)
    skipped, kept = read_gguf_header(path), read_gguf_header(path, keep_arrays=True)
    assert "tokenizer.ggml.tokens" not in skipped.metadata and kept.metadata["tokenizer.ggml.tokens"] == tokens
    assert skipped.context_length == kept.context_length == 2048  # the key after the vocabulary is read right
    assert skipped.tensor_count == 1 and skipped.data_end == kept.data_end


def test_a_vocabulary_string_longer_than_the_file_is_one_clean_error(tmp_path: Path) -> None:
    path = _with_vocabulary(tmp_path / "v.gguf", ["aaaa", "bbbb"])
    data = path.read_bytes()
    at = data.index(b"bbbb") - 8  # the second token's length
    path.write_bytes(data[:at] + struct.pack("<Q", len(data)) + data[at + 8:])
    with pytest.raises(GGUFFormatError, match="does not fit the file"):
        read_gguf_header(path)
