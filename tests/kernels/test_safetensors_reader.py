"""The safetensors reader: reads what the reference writer writes, and turns any junk into SafetensorsFormatError."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgemind.kernels.safetensors_reader import SafetensorsFormatError, read_safetensors

TENSORS = {
    "a.weight": np.arange(12, dtype=np.float32).reshape(3, 4),
    "b.ids": np.array([[1, 2, 3]], dtype=np.int64),
    "c.half": np.array([0.5, -2.0], dtype=np.float16),
    "d.empty": np.zeros((0, 5), dtype=np.float32),
}


def encode(header: dict[str, object], data: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def write(tensors: dict[str, np.ndarray]) -> bytes:
    """The format by its spec: little-endian buffers back to back, offsets relative to the data section."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    data = b""
    codes = {"float32": "F32", "int64": "I64", "float16": "F16"}
    for name, array in tensors.items():
        blob = array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": codes[str(array.dtype)], "shape": list(array.shape),
                        "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    return encode(header, data)


def test_reads_every_tensor_with_its_dtype_and_shape() -> None:
    got = read_safetensors(write(TENSORS))
    assert set(got) == set(TENSORS)
    for name, array in TENSORS.items():
        assert got[name].dtype == array.dtype and got[name].shape == array.shape
        np.testing.assert_array_equal(got[name], array)


def test_reads_what_the_reference_safetensors_package_writes() -> None:
    reference = pytest.importorskip("safetensors.numpy")
    got = read_safetensors(reference.save(TENSORS))
    for name, array in TENSORS.items():
        np.testing.assert_array_equal(got[name], array)


def test_arrays_are_read_only_views() -> None:
    got = read_safetensors(write(TENSORS))
    with pytest.raises(ValueError):
        got["a.weight"][0, 0] = 1.0


@pytest.mark.parametrize("blob, message", [
    (b"\x01\x02", "too short"),
    (struct.pack("<Q", 1 << 40) + b"{}", "does not fit"),
    (struct.pack("<Q", 4) + b"\xff\xfe{}", "not JSON"),
    (encode([1, 2]), "not a JSON object"),  # type: ignore[arg-type]
    (encode({"x": {"dtype": "Q7", "shape": [1], "data_offsets": [0, 1]}}, b"\0"), "unsupported dtype"),
    (encode({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4), "outside"),
    (encode({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8), "do not hold"),
    (encode({"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4), "shape"),
    (encode({"x": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}, b"\0" * 4), "outside"),
    (encode({"x": "nope"}), "not an object"),
    (encode({"x": {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4), "unsupported dtype"),
])
def test_junk_is_one_clear_error(blob: bytes, message: str) -> None:
    with pytest.raises(SafetensorsFormatError, match=message):
        read_safetensors(blob)


def test_every_truncation_of_a_real_file_is_rejected() -> None:
    whole = write(TENSORS)
    for n in range(len(whole)):
        with pytest.raises(SafetensorsFormatError):
            read_safetensors(whole[:n])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_crash_the_reader(blob: bytes) -> None:
    try:
        read_safetensors(blob)
    except SafetensorsFormatError:
        pass
