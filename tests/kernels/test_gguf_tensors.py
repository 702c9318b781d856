"""The GGUF tensor reader: agrees with the reference `gguf` reader on real models, hands out zero-copy bytes, and
turns every bad tensor declaration into one GGUFFormatError line that names it."""

from __future__ import annotations

import struct
from pathlib import Path

import gguf
import numpy as np
import pytest

from edgemind.kernels.gguf_header import GGML_TYPE_NAMES, GGUFFormatError
from edgemind.kernels.gguf_tensors import GGUFTensors

TINY = "smollm2-135m-instruct-q4_1.gguf"


def _string(s: str) -> bytes:
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def write_raw_gguf(path: Path, tensors: list[tuple[str, tuple[int, ...], int, int]], data: bytes,
                   alignment: int = 32) -> Path:
    """A GGUF written byte by byte, so a test can declare tensors no honest writer would: (name, ne dims, type,
    offset) each, then `data` after the aligned header."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), 1)
    out += _string("general.alignment") + struct.pack("<II", 4, alignment)
    for name, dims, ggml_type, offset in tensors:
        out += _string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", ggml_type, offset)
    out += b"\0" * (-len(out) % alignment)
    path.write_bytes(out + data)
    return path


def test_type_names_match_the_reference_package() -> None:
    for ggml_type, name in GGML_TYPE_NAMES.items():
        assert gguf.GGMLQuantizationType(ggml_type).name == name


def test_tensor_table_of_the_tiny_model_matches_the_reference_reader(models_dir: Path) -> None:
    path = models_dir / TINY
    reference = gguf.GGUFReader(path)
    with GGUFTensors.open(path) as g:
        assert g.names == [t.name for t in reference.tensors]
        assert g.metadata["general.architecture"] == "llama"
        for t in reference.tensors:
            info = g.info(t.name)
            assert info.ggml_type == int(t.tensor_type)
            assert info.type_name == t.tensor_type.name
            assert info.shape == tuple(int(d) for d in reversed(t.shape))
            assert (info.offset, info.nbytes) == (t.data_offset, int(t.n_bytes))
        assert g.info("blk.0.ffn_gate.weight").shape == (1536, 576)  # [out, in]


def test_raw_is_a_read_only_view_of_the_mapped_file(models_dir: Path) -> None:
    with GGUFTensors.open(models_dir / TINY) as g:
        a, b = g.raw("blk.3.attn_q.weight"), g.raw("blk.3.attn_q.weight")
        assert a.dtype == np.uint8 and a.size == g.info("blk.3.attn_q.weight").nbytes
        assert np.shares_memory(a, b)
        assert not a.flags.writeable
        with open(models_dir / TINY, "rb") as f:
            f.seek(g.info("blk.3.attn_q.weight").offset)
            assert f.read(64) == a[:64].tobytes()


def test_dequantize_matches_the_reference_for_a_tensor_of_the_tiny_model(models_dir: Path) -> None:
    with GGUFTensors.open(models_dir / TINY) as g:
        info = g.info("blk.0.ffn_down.weight")
        ours = g.dequantize(info.name)
        ref = gguf.quants.dequantize(g.raw(info.name).reshape(info.shape[0], -1), info.ggml_type)
        assert ours.dtype == np.float32 and ours.shape == info.shape == (576, 1536)
        np.testing.assert_array_equal(ours, ref)


def test_alignment_comes_from_the_metadata(tmp_path: Path) -> None:
    w = gguf.GGUFWriter(str(tmp_path / "a.gguf"), "llama")
    w.add_custom_alignment(64)
    a = np.arange(3 * 5, dtype=np.float32).reshape(3, 5)
    b = np.linspace(-1, 1, 7 * 2).astype(np.float16).reshape(7, 2)
    w.add_tensor("a", a)
    w.add_tensor("b", b)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with GGUFTensors.open(tmp_path / "a.gguf") as g:
        assert g.header.alignment == 64
        assert g.info("b").offset % 64 == 0
        np.testing.assert_array_equal(g.dequantize("a"), a)
        np.testing.assert_array_equal(g.dequantize("b"), b.astype(np.float32))


def test_a_closed_reader_refuses_to_read(models_dir: Path) -> None:
    g = GGUFTensors.open(models_dir / TINY)
    view = g.raw("output_norm.weight")
    g.close()
    assert view.size == 576 * 4  # a view handed out before close stays valid
    with pytest.raises(GGUFFormatError, match="closed"):
        g.raw("output_norm.weight")


def test_an_unknown_tensor_name_is_named(models_dir: Path) -> None:
    with GGUFTensors.open(models_dir / TINY) as g, pytest.raises(GGUFFormatError, match="no tensor 'nope'"):
        g.info("nope")


def test_a_hand_written_file_reads_back(tmp_path: Path) -> None:
    data = np.arange(8, dtype=np.float32).tobytes()
    path = write_raw_gguf(tmp_path / "ok.gguf", [("x", (4, 2), 0, 0)], data)
    with GGUFTensors.open(path) as g:
        np.testing.assert_array_equal(g.dequantize("x"), np.arange(8, dtype=np.float32).reshape(2, 4))


@pytest.mark.parametrize(("tensors", "data", "message"), [
    ([("w", (32, 2), 99, 0)], b"\0" * 64, "tensor 'w' has unknown ggml type 99"),
    ([("w", (33, 2), 2, 0)], b"\0" * 64, "tensor 'w' has rows of 33 values.*disagrees"),
    ([("w", (32, 4), 2, 0)], b"\0" * 40, "truncated: tensor 'w'"),
    ([("a", (8,), 0, 0), ("w", (32, 4), 2, 32)], b"\0" * 40, "truncated: tensor 'w'"),
    ([("w", (32, 1), 2, 8)], b"\0" * 64, "not aligned"),
    ([("a", (32, 1), 0, 0), ("b", (8,), 0, 64)], b"\0" * 128, "'a' and 'b' overlap"),
    ([("a", (8,), 0, 0), ("a", (8,), 0, 32)], b"\0" * 64, "'a' is declared twice"),
    ([("w", (0, 3), 0, 0)], b"\0" * 64, "empty shape"),
])
def test_bad_tensor_declarations_are_one_line_errors(tmp_path: Path, tensors: list, data: bytes,
                                                     message: str) -> None:
    path = write_raw_gguf(tmp_path / "bad.gguf", tensors, data)
    with pytest.raises(GGUFFormatError, match=message) as err:
        GGUFTensors.open(path)
    assert "\n" not in str(err.value)


def test_a_tiny_model_cut_short_is_reported_as_truncated(tiny_copy: Path) -> None:
    size = tiny_copy.stat().st_size
    with tiny_copy.open("r+b") as f:
        f.truncate(size - 1000)
    with pytest.raises(GGUFFormatError, match="truncated: tensor"):
        GGUFTensors.open(tiny_copy)
