"""VSA (hyperdimensional) gradient compression: bind each chunk of a gradient to its own random bipolar key and
bundle the bound chunks into one hypervector; unbinding with a key gives that chunk back plus the crosstalk of the
others. Optionally the hypervector is ternary (AbsMean) and packed five trits a byte. Numpy only.

It is measured, not assumed: `compression_curve` gives the compression ratio against the relative reconstruction
error, next to plain ternary quantization of the gradient as the baseline any compression has to beat."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import TuneError
from .ternary import dequantize_ternary, quantize_ternary
from .trits import PackedTrits, pack_trits, unpack_trits

FLOAT_BITS = 32


@dataclass(frozen=True, slots=True)
class Hypervector:
    """A compressed vector of `length` values: a float bundle of `dim` values, or its packed trits and scale."""

    length: int
    dim: int
    chunks: int
    seed: int
    bundle: np.ndarray | None
    trits: PackedTrits | None
    scale: float

    @property
    def stored_bits(self) -> int:
        """Bits kept: the float bundle, or the packed trits plus one float scale (keys come from the seed)."""
        if self.trits is not None:
            return 8 * len(self.trits.data) + FLOAT_BITS
        return FLOAT_BITS * self.dim

    @property
    def compression_ratio(self) -> float:
        """float32 bits of the original vector over the bits kept."""
        return FLOAT_BITS * self.length / self.stored_bits


@dataclass(frozen=True, slots=True)
class CompressionPoint:
    """One point of the curve: how a vector was compressed, how small it got, how far the reconstruction is."""

    method: str
    dim: int
    ratio: float
    error: float
    cosine: float = 1.0  # of the reconstruction with the original: the direction an optimizer step follows


def keys(chunks: int, dim: int, seed: int) -> np.ndarray:
    """Random bipolar (+1/-1) keys, one row a chunk; sender and receiver rebuild them from the seed."""
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([-1, 1], dtype=np.int8), size=(chunks, dim))


def encode(vector: np.ndarray, dim: int, *, seed: int = 0, ternary: bool = False) -> Hypervector:
    """Bind the chunks of `vector` (dim values each, the last zero-padded) to their keys and bundle them."""
    flat = np.asarray(vector, dtype=np.float64).reshape(-1)
    if dim < 1:
        raise TuneError(f"hypervector dimension must be at least 1, not {dim}")
    if flat.size == 0:
        raise TuneError("cannot encode an empty vector")
    chunks = -(-flat.size // dim)
    padded = np.zeros(chunks * dim)
    padded[:flat.size] = flat
    bundle = (padded.reshape(chunks, dim) * keys(chunks, dim, seed)).sum(axis=0)
    if not ternary:
        return Hypervector(flat.size, dim, chunks, seed, bundle.astype(np.float32), None, 1.0)
    trits, scale = quantize_ternary(bundle)
    return Hypervector(flat.size, dim, chunks, seed, None, pack_trits(trits), scale)


def decode(hv: Hypervector) -> np.ndarray:
    """Unbind every chunk with its key: the original vector plus crosstalk (exact for one float chunk)."""
    if hv.trits is not None:
        bundle = dequantize_ternary(unpack_trits(hv.trits), hv.scale).astype(np.float64)
    elif hv.bundle is not None:
        bundle = hv.bundle.astype(np.float64)
    else:
        raise TuneError("hypervector holds neither a bundle nor trits")
    unbound = bundle[None, :] * keys(hv.chunks, hv.dim, hv.seed)
    return unbound.reshape(-1)[:hv.length].astype(np.float32)


def relative_error(original: np.ndarray, reconstruction: np.ndarray) -> float:
    """||original - reconstruction|| / ||original||."""
    original = np.asarray(original, dtype=np.float64).reshape(-1)
    norm = float(np.linalg.norm(original))
    diff = float(np.linalg.norm(original - np.asarray(reconstruction, dtype=np.float64).reshape(-1)))
    return diff / norm if norm else diff


def cosine_similarity(original: np.ndarray, reconstruction: np.ndarray) -> float:
    """cos(original, reconstruction): 1 for the same direction, ~0 for noise; 0 when either vector is zero."""
    a = np.asarray(original, dtype=np.float64).reshape(-1)
    b = np.asarray(reconstruction, dtype=np.float64).reshape(-1)
    norms = float(np.linalg.norm(a)) * float(np.linalg.norm(b))
    return float(a @ b) / norms if norms else 0.0


METHODS = ("vsa-float", "vsa-ternary", "ternary-only")


def round_trip(vector: np.ndarray, method: str, dim: int, seed: int = 0) -> tuple[np.ndarray, float]:
    """What the receiver of `vector` compressed by `method` gets back, and the compression ratio. `dim` is the
    hypervector dimension (the chunk size) of the VSA methods; ternary-only ignores it."""
    flat = np.asarray(vector, dtype=np.float64).reshape(-1)
    if method == "ternary-only":
        if flat.size == 0:
            raise TuneError("cannot encode an empty vector")
        trits, scale = quantize_ternary(flat)
        bits = 8 * len(pack_trits(trits).data) + FLOAT_BITS
        return dequantize_ternary(trits, scale).astype(np.float32), FLOAT_BITS * flat.size / bits
    if method not in METHODS:
        raise TuneError(f"unknown compression method {method!r}: choose {', '.join(METHODS)}")
    hv = encode(flat, dim, seed=seed, ternary=method == "vsa-ternary")
    return decode(hv), hv.compression_ratio


def compression_curve(vector: np.ndarray, dims: list[int], seed: int = 0) -> list[CompressionPoint]:
    """Ratio and reconstruction error for each dimension, float and ternary, and plain ternary as the baseline."""
    flat = np.asarray(vector, dtype=np.float64).reshape(-1)
    points = []
    for dim in dims:
        for method in ("vsa-float", "vsa-ternary"):
            back, ratio = round_trip(flat, method, dim, seed)
            points.append(CompressionPoint(method, dim, ratio, relative_error(flat, back),
                                           cosine_similarity(flat, back)))
    back, ratio = round_trip(flat, "ternary-only", flat.size)
    points.append(CompressionPoint("ternary-only", flat.size, ratio, relative_error(flat, back),
                                   cosine_similarity(flat, back)))
    return points
