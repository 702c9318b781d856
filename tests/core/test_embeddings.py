"""Local sentence embeddings: the bundled all-MiniLM-L6-v2 weights, built once into an ONNX encoder in the data
folder, give the vectors the plain numpy BERT forward gives, and chromadb uses them without ever going online.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import zipfile
from pathlib import Path
from typing import Iterator

import chromadb
import numpy as np
import pytest
from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

from edgemind.core.embeddings.chroma import ChromaEmbeddingFunction
from edgemind.core.embeddings.model_files import (
    CONFIG, TOKENIZER, WEIGHTS, graph_variant, package_archive, read_pinned,
)
from edgemind.core.embeddings.embedder import EMBEDDING_DIM, MAX_TOKENS, Embedder
from edgemind.core.errors import ConfigError, ModelIntegrityError, PromptError
from edgemind.core.hardware import has_vnni
from edgemind.core.settings import load_settings
from edgemind.kernels.bert_encoder import BertConfig, reference_forward
from edgemind.kernels.safetensors_reader import read_safetensors

SENTENCES = [
    "How do I reverse a list in Python?",
    "python list reverse method",
    "the weather in Paris is sunny",
    "",
    "Ünïcödé, 北京, naïve café 🙂 — and some punctuation!?",
    "SELECT name FROM users WHERE id = 42;",
    "A much longer paragraph about gardening: " + "tomatoes need sun, water and patience. " * 40,
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embeddings-cache")


@pytest.fixture(scope="module")
def embedder(cache_dir: Path) -> Embedder:
    return Embedder(cache_dir)


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def zip_with(path: Path, members: dict[str, bytes]) -> Path:
    """A stand-in for the package's model.zip holding exactly these members."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def flipped(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


# ------------------------------------------------------------------------------------------------ the vectors

def test_vectors_match_a_plain_numpy_forward_of_the_same_weights(embedder: Embedder) -> None:
    archive = package_archive()
    cfg = BertConfig.from_hf(json.loads(read_pinned(archive, CONFIG)))
    weights = read_safetensors(read_pinned(archive, WEIGHTS))
    got = embedder.embed(SENTENCES, batch_size=4)
    want = []
    for enc in embedder.tokenize(SENTENCES):
        ids = np.array([enc.ids], dtype=np.int64)
        want.append(reference_forward(cfg, weights, ids, np.ones_like(ids), np.zeros_like(ids))[0])
    assert cosine_rows(got, np.array(want)).min() >= 0.999


def test_vectors_are_unit_length_float32_rows_in_input_order(embedder: Embedder) -> None:
    vectors = embedder.embed(SENTENCES)
    assert vectors.shape == (len(SENTENCES), EMBEDDING_DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    reversed_order = embedder.embed(SENTENCES[::-1])
    np.testing.assert_allclose(reversed_order[::-1], vectors, atol=1e-5)


def test_a_text_gets_the_same_vector_alone_and_in_a_padded_batch(embedder: Embedder) -> None:
    together = embedder.embed(SENTENCES, batch_size=3)
    alone = np.vstack([embedder.embed([s], batch_size=1) for s in SENTENCES])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_similar_meanings_are_closer_than_unrelated_ones(embedder: Embedder) -> None:
    question, paraphrase, unrelated = embedder.embed(SENTENCES[:3])
    assert question @ paraphrase > 0.6
    assert question @ unrelated < 0.2
    cat, kitten, stocks = embedder.embed(["A cat sleeps on the sofa.", "A kitten is napping on the couch.",
                                          "Stock markets fell sharply on Monday."])
    assert cat @ kitten > cat @ stocks + 0.3


def test_text_past_256_word_pieces_is_ignored_like_sentence_transformers(embedder: Embedder) -> None:
    head = "the committee discussed the budget for the new library " * 40  # well over 256 word pieces
    assert len(embedder.tokenize([head])[0].ids) == MAX_TOKENS
    a, b = embedder.embed([head + "and then it rained", head + "volcanoes erupted across the whole continent"])
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_splitting_a_batch_into_smaller_runs_changes_no_vector(embedder: Embedder, cache_dir: Path) -> None:
    whole = Embedder(cache_dir, tokens_per_run=None).embed(SENTENCES, batch_size=32)
    np.testing.assert_allclose(embedder.embed(SENTENCES, batch_size=32), whole, atol=1e-5)
    np.testing.assert_allclose(Embedder(cache_dir, tokens_per_run=8).embed(SENTENCES, batch_size=32), whole,
                               atol=1e-5)


def test_the_float32_variant_is_kept_apart_and_an_unknown_variant_is_refused(embedder: Embedder,
                                                                             cache_dir: Path) -> None:
    fp32 = Embedder(cache_dir, variant="fused")
    assert fp32.encoder_path != embedder.encoder_path and "-fused.onnx" in fp32.encoder_path.name
    assert embedder.encoder_path.name.endswith("-int8.onnx" if has_vnni() else "-int8-u8.onnx")
    close = np.sum(fp32.embed(SENTENCES) * embedder.embed(SENTENCES), axis=1)
    assert close.min() >= 0.999
    with pytest.raises(ConfigError, match="variant 'bf16'"):
        Embedder(cache_dir, variant="bf16")


def test_int8_is_built_with_the_weight_codes_this_cpu_multiplies_exactly() -> None:
    assert graph_variant("int8", vnni=True) == "int8" and graph_variant("int8", vnni=False) == "int8-u8"
    assert graph_variant("int8-u8", vnni=True) == "int8-u8" and graph_variant("fused", vnni=False) == "fused"
    assert has_vnni(("avx2", "avx512_vnni")) and has_vnni(("avx2", "avx_vnni")) and not has_vnni(("avx2", "avx512f"))


@pytest.mark.skipif(not has_vnni(), reason="the signed int8 graph is exact only on a CPU with VNNI")
def test_with_vnni_signed_and_unsigned_weight_codes_give_the_same_vectors(embedder: Embedder,
                                                                          cache_dir: Path) -> None:
    unsigned = Embedder(cache_dir, variant="int8-u8")
    np.testing.assert_allclose(unsigned.embed(SENTENCES), embedder.embed(SENTENCES), atol=1e-5)


def test_an_empty_list_gives_zero_rows(embedder: Embedder) -> None:
    assert embedder.embed([]).shape == (0, EMBEDDING_DIM)


@pytest.mark.parametrize("text", [
    "", "   \n\t ", "\x00\x01\x02\x7f", "broken \ud800 surrogate", bytes(range(256)).decode("latin-1") * 50,
    "x" * 1_000_000, "word " * 200_000, "🙂" * 5000,
], ids=["empty", "whitespace", "control", "surrogate", "binary-junk", "one-huge-word", "million-chars", "emoji"])
def test_odd_texts_still_get_a_unit_vector(embedder: Embedder, text: str) -> None:
    (vector,) = embedder.embed([text])
    assert np.isfinite(vector).all() and abs(np.linalg.norm(vector) - 1.0) < 1e-5


@pytest.mark.parametrize("texts, message", [
    ("just one string", "list of texts"),
    ([b"raw bytes"], "item 0 is a bytes"),
    (["fine", None], "item 1 is a NoneType"),
])
def test_things_that_are_not_texts_are_a_clear_error(embedder: Embedder, texts: object, message: str) -> None:
    with pytest.raises(PromptError, match=message):
        embedder.embed(texts)  # type: ignore[arg-type]


def test_a_batch_size_below_one_is_a_clear_error(embedder: Embedder) -> None:
    with pytest.raises(PromptError, match="batch_size"):
        embedder.embed(["a"], batch_size=0)


# ------------------------------------------------------------------------------------------ the cached encoder

def test_the_cached_encoder_is_reused_not_rebuilt(embedder: Embedder, cache_dir: Path) -> None:
    before = embedder.encoder_path.stat().st_mtime_ns
    again = Embedder(cache_dir)
    assert not again.rebuilt and again.encoder_path == embedder.encoder_path
    assert again.encoder_path.stat().st_mtime_ns == before
    assert [p.name for p in cache_dir.iterdir() if ".partial" in p.name] == []


def test_the_cache_lives_in_the_data_folder(embedder: Embedder, tmp_path: Path) -> None:
    settings = load_settings(env={"EDGEMIND_HOME": str(tmp_path / "home")})
    target = settings.artifacts_dir / "embeddings"
    assert target.is_relative_to(settings.home)
    shutil.copytree(embedder.encoder_path.parent, target)
    from_settings = Embedder.from_settings(settings)
    assert from_settings.encoder_path.parent == target and not from_settings.rebuilt
    assert WEIGHTS.sha256[:16] in from_settings.encoder_path.name


@pytest.mark.parametrize("damage", ["flip-a-weight-byte", "truncate", "lose-the-digest"])
def test_a_damaged_cached_encoder_is_rebuilt(embedder: Embedder, tmp_path: Path, damage: str) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(embedder.encoder_path.parent, cache)
    path = cache / embedder.encoder_path.name
    data = path.read_bytes()
    if damage == "flip-a-weight-byte":
        path.write_bytes(flipped(data, len(data) // 2))  # still a loadable model, with one wrong weight
    elif damage == "truncate":
        path.write_bytes(data[: len(data) // 3])
    else:
        path.with_name(path.name + ".sha256").unlink()
    rebuilt = Embedder(cache)
    assert rebuilt.rebuilt
    assert hashlib.sha256(path.read_bytes()).hexdigest() == path.with_name(path.name + ".sha256").read_text()
    np.testing.assert_allclose(rebuilt.embed(SENTENCES[:3]), embedder.embed(SENTENCES[:3]), atol=1e-6)


def test_tampered_weights_are_rejected_and_nothing_is_cached(tmp_path: Path) -> None:
    archive = package_archive()
    members = {m.name: read_pinned(archive, m) for m in (CONFIG, TOKENIZER, WEIGHTS)}
    members[WEIGHTS.name] = flipped(members[WEIGHTS.name], len(members[WEIGHTS.name]) - 100)
    tampered = zip_with(tmp_path / "model.zip", members)
    with pytest.raises(ModelIntegrityError, match="SHA-256 of model.safetensors is [0-9a-f]{16}…, expected 53aa"):
        Embedder(tmp_path / "cache", archive=tampered)
    assert not (tmp_path / "cache").exists()


def test_a_tampered_tokenizer_is_rejected(tmp_path: Path) -> None:
    tokenizer = read_pinned(package_archive(), TOKENIZER).replace(b'"lowercase":true', b'"lowercase":false')
    tampered = zip_with(tmp_path / "model.zip", {TOKENIZER.name: tokenizer})
    with pytest.raises(ModelIntegrityError, match="SHA-256 of tokenizer.json"):
        Embedder(tmp_path / "cache", archive=tampered)


@pytest.mark.parametrize("archive_bytes, message", [
    (None, "is missing"), (b"PK\x03\x04 not really a zip", "is damaged"), (b"", "is damaged"),
])
def test_a_missing_or_broken_package_file_is_one_line(tmp_path: Path, archive_bytes: bytes | None,
                                                      message: str) -> None:
    archive = tmp_path / "model.zip"
    if archive_bytes is not None:
        archive.write_bytes(archive_bytes)
    with pytest.raises(ModelIntegrityError, match=message) as caught:
        Embedder(tmp_path / "cache", archive=archive)
    assert "\n" not in str(caught.value)


def test_a_package_without_the_weights_is_named(tmp_path: Path) -> None:
    archive = zip_with(tmp_path / "model.zip", {TOKENIZER.name: read_pinned(package_archive(), TOKENIZER),
                                                CONFIG.name: read_pinned(package_archive(), CONFIG)})
    with pytest.raises(ModelIntegrityError, match="has no model.safetensors"):
        Embedder(tmp_path / "cache", archive=archive)


# ----------------------------------------------------------------------------------------------------- chromadb

DOCUMENTS = {
    "py-reverse": "To reverse a list in Python call list.reverse() or use slicing with [::-1].",
    "paris": "Paris weather today: sunny with a light breeze and 24 degrees.",
    "bread": "Knead the dough for ten minutes, then let the bread rise for an hour.",
    "git": "git rebase -i lets you squash, reorder and edit earlier commits.",
    "tax": "The tax return is due by the end of April; keep receipts for deductions.",
    "cats": "Cats sleep for twelve to sixteen hours a day.",
    "sql": "Use an index on the customer_id column to speed up the join.",
    "marathon": "Training for a marathon takes about four months of gradual running.",
    "piano": "Practise piano scales slowly with a metronome before speeding up.",
    "mars": "The rover collected rock samples from the Martian crater floor.",
}
QUERIES = {
    "how do I flip the order of items in a python list": "py-reverse",
    "is it going to rain in France's capital": "paris",
    "homemade loaf recipe": "bread",
    "combine several commits into one": "git",
    "exploration of the red planet": "mars",
}


class NetworkUsed(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Any socket connection fails the test, and chromadb's own model folder is watched for a download."""

    def refuse(self: socket.socket, address: object) -> None:
        raise NetworkUsed(f"network connection attempted to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    chroma_model_dir = tmp_path / "chroma-default-model"
    monkeypatch.setattr(ONNXMiniLM_L6_V2, "DOWNLOAD_PATH", chroma_model_dir)
    yield chroma_model_dir
    assert not chroma_model_dir.exists(), "chromadb's default model was fetched"


def chroma_client(path: Path) -> chromadb.ClientAPI:
    return chromadb.PersistentClient(path=str(path), settings=chromadb.Settings(anonymized_telemetry=False))


def nearest(collection: chromadb.Collection, query: str) -> str:
    return collection.query(query_texts=[query], n_results=1)["ids"][0][0]


def test_the_network_guard_really_blocks_connections(no_network: Path) -> None:
    with socket.socket() as sock, pytest.raises(NetworkUsed):
        sock.connect(("127.0.0.1", 9))


def test_chromadb_finds_the_nearest_document_with_our_function_offline(
        embedder: Embedder, cache_dir: Path, tmp_path: Path, no_network: Path) -> None:
    client = chroma_client(tmp_path / "chroma")
    function = ChromaEmbeddingFunction(cache_dir, embedder=embedder)
    collection = client.create_collection("notes", embedding_function=function)
    collection.add(ids=list(DOCUMENTS), documents=list(DOCUMENTS.values()))
    assert collection.configuration["hnsw"]["space"] == "cosine"
    for query, expected in QUERIES.items():
        assert nearest(collection, query) == expected, query


def test_a_reopened_collection_embeds_with_our_function_without_being_given_it(
        embedder: Embedder, cache_dir: Path, tmp_path: Path, no_network: Path) -> None:
    first = chroma_client(tmp_path / "chroma")
    first.create_collection("notes", embedding_function=ChromaEmbeddingFunction(cache_dir, embedder=embedder)).add(
        ids=list(DOCUMENTS), documents=list(DOCUMENTS.values()))
    reopened = chroma_client(tmp_path / "chroma").get_collection("notes")
    assert isinstance(reopened.configuration["embedding_function"], ChromaEmbeddingFunction)
    assert nearest(reopened, "combine several commits into one") == "git"


def test_the_function_round_trips_through_its_config(cache_dir: Path) -> None:
    function = ChromaEmbeddingFunction(cache_dir)
    assert not function.is_legacy()
    assert ChromaEmbeddingFunction.name() == "edgemind-all-minilm-l6-v2"
    rebuilt = ChromaEmbeddingFunction.build_from_config(function.get_config())
    assert rebuilt.get_config() == {"cache_dir": str(cache_dir)}
    with pytest.raises(ConfigError, match="cache_dir"):
        ChromaEmbeddingFunction.build_from_config({})
