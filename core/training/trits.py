"""Ternary vectors packed five trits to a byte (3**5 = 243 <= 256): 1.6 bits a trit, the storage of the VSA's
hypervectors and of ternary weights. Pure numpy; never lossy: unpack(pack(t)) == t exactly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import TuneError

TRITS_PER_BYTE = 5
_POWERS = np.array([1, 3, 9, 27, 81], dtype=np.uint8)
_MAX_BYTE = 242  # 3**5 - 1: a larger byte is not five trits


@dataclass(frozen=True, slots=True)
class PackedTrits:
    """`length` trits in `data`, five a byte, base 3 with the first trit in the lowest digit (trit + 1 per digit)."""

    data: bytes
    length: int

    @property
    def bits_per_trit(self) -> float:
        return 8 * len(self.data) / self.length if self.length else 0.0


def pack_trits(trits: np.ndarray) -> PackedTrits:
    """Pack a vector of -1/0/+1 values; anything else is refused with the index of the first bad value."""
    flat = np.asarray(trits).reshape(-1)
    bad = np.flatnonzero((flat != -1) & (flat != 0) & (flat != 1))
    if bad.size:
        raise TuneError(f"trits must be -1, 0 or +1: value {flat[bad[0]].item()!r} at index {int(bad[0])}")
    length = int(flat.size)
    padded = np.zeros(-(-length // TRITS_PER_BYTE) * TRITS_PER_BYTE, dtype=np.uint8)
    padded[:length] = (flat + 1).astype(np.uint8)
    digits = padded.reshape(-1, TRITS_PER_BYTE)
    return PackedTrits(data=(digits * _POWERS).sum(axis=1, dtype=np.uint16).astype(np.uint8).tobytes(),
                       length=length)


def unpack_trits(packed: PackedTrits) -> np.ndarray:
    """The int8 trits `pack_trits` packed; a byte above 242 or a length the bytes cannot hold is refused."""
    raw = np.frombuffer(packed.data, dtype=np.uint8)
    if packed.length < 0 or packed.length > raw.size * TRITS_PER_BYTE:
        raise TuneError(f"packed trits hold at most {raw.size * TRITS_PER_BYTE} values, not {packed.length}")
    if raw.size and int(raw.max()) > _MAX_BYTE:
        raise TuneError(f"packed trits: byte {int(raw.max())} is not five trits (at most {_MAX_BYTE})")
    digits = (raw[:, None] // _POWERS[None, :]) % 3
    return (digits.reshape(-1)[:packed.length].astype(np.int8) - 1).astype(np.int8)
