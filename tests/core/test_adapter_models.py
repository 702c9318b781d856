"""A tuned LoRA adapter is a model of its own: listed, asked by its id through llama.cpp, pinned by SHA-256, and
refused with one line when its file was changed or its base is not the file it was made for."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from edgemind.core.engine.cache_stage import answer_version
from edgemind.core.engine.facade import AskOptions, Engine
from edgemind.core.errors import ModelError, ModelIntegrityError
from edgemind.core.models.adapters import AdapterManifest
from edgemind.core.models.integrity import sha256_file
from tests.conftest import TINY
from tests.support.lora_files import write_lora

GREEDY = AskOptions(temperature=0.0, seed=7, max_tokens=16, use_cache=False)


def manifest_for(engine: Engine, name: str, file: Path) -> AdapterManifest:
    base = engine.registry.get(TINY)
    assert base.sha256
    return AdapterManifest(name=name, base_model=TINY, base_sha256=base.sha256, adapter_sha256=sha256_file(file),
                           rank=4, alpha=8.0, data_summary={"examples": 3})


_OPENED: list[list[str]] = []  # one list per running `files_opened` block: the paths opened in it
_HOOK_ADDED = False


def _record_open(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _OPENED and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED[-1].append(os.fsdecode(args[0]))


@contextmanager
def files_opened() -> Iterator[list[str]]:
    """Every file this process opens inside the block, as the interpreter's own audit event reports it."""
    global _HOOK_ADDED
    if not _HOOK_ADDED:
        sys.addaudithook(_record_open)  # an audit hook stays for the process: added once, idle outside a block
        _HOOK_ADDED = True
    _OPENED.append([])
    try:
        yield _OPENED[-1]
    finally:
        _OPENED.pop()


@pytest.fixture
def base_file(engine: Engine) -> Path:
    return engine.registry.prepare(engine.registry.get(TINY))


def test_an_adapter_is_listed_as_its_own_model_on_its_base(engine: Engine, base_file: Path, tmp_path: Path) -> None:
    file = write_lora(tmp_path / "a.gguf", base_file, zero_b=True)
    spec = engine.registry.add_adapter(manifest_for(engine, "my-helper", file), file)
    listed = {m.id: m for m in engine.registry.list_models(include_ollama=False)}
    assert listed["my-helper"].base_model == TINY and listed["my-helper"].path == base_file
    assert spec.adapter is not None and spec.adapter.read_bytes() == file.read_bytes()
    assert spec.as_dict()["base_model"] == TINY


def test_adding_an_adapter_to_a_prepared_base_reads_no_byte_of_the_base_again(engine: Engine, base_file: Path,
                                                                              tmp_path: Path) -> None:
    """The base's header was read when it was prepared (a whole vocabulary parsed: ~0.5 s for the default model);
    the adapter is checked against that header, not a second read of the file."""
    file = write_lora(tmp_path / "a.gguf", base_file, zero_b=True)
    manifest = manifest_for(engine, "read-once", file)
    with files_opened() as opened:
        engine.registry.add_adapter(manifest, file)
    assert str(file) in opened  # the adapter's own header and hash: the record sees what add_adapter reads
    assert str(base_file) not in opened


def test_the_adapter_changes_the_answer_and_a_zero_adapter_does_not(engine: Engine, base_file: Path,
                                                                   tmp_path: Path) -> None:
    moved = write_lora(tmp_path / "moved.gguf", base_file, scale=0.5)
    zero = write_lora(tmp_path / "zero.gguf", base_file, zero_b=True)
    engine.registry.add_adapter(manifest_for(engine, "moved", moved), moved)
    engine.registry.add_adapter(manifest_for(engine, "zero", zero), zero)
    prompt = "What is the capital of France?"
    base = engine.ask(prompt, GREEDY)
    with_zero = engine.ask(prompt, replace(GREEDY, model="zero"))
    with_moved = engine.ask(prompt, replace(GREEDY, model="moved"))
    assert with_zero.model == "zero" and with_moved.model == "moved"
    assert with_zero.text == base.text
    assert with_moved.text != base.text


def test_an_adapter_answers_under_its_own_cache_version(engine: Engine, base_file: Path, tmp_path: Path) -> None:
    file = write_lora(tmp_path / "a.gguf", base_file, zero_b=True)
    spec = engine.registry.add_adapter(manifest_for(engine, "cached-apart", file), file)
    assert answer_version(spec) != answer_version(engine.registry.get(TINY))


def test_a_changed_adapter_file_is_refused_before_llama_cpp_reads_it(engine: Engine, base_file: Path,
                                                                    tmp_path: Path) -> None:
    file = write_lora(tmp_path / "a.gguf", base_file, scale=0.5)
    spec = engine.registry.add_adapter(manifest_for(engine, "tampered", file), file)
    assert spec.adapter is not None
    write_lora(spec.adapter, base_file, scale=0.5, seed=99)  # same size, other weights
    with pytest.raises(ModelIntegrityError, match="does not match its SHA-256"):
        engine.registry.prepare(engine.registry.get("tampered"))
    with pytest.raises(ModelIntegrityError, match="adapter 'tampered'"):
        engine.ask("Hi", replace(GREEDY, model="tampered"))


def test_an_adapter_for_another_file_of_the_base_is_refused(engine: Engine, base_file: Path, tmp_path: Path) -> None:
    file = write_lora(tmp_path / "a.gguf", base_file)
    manifest = manifest_for(engine, "elsewhere", file)
    other = AdapterManifest(**{**manifest.as_dict(), "base_sha256": "0" * 64})
    with pytest.raises(ModelError, match="made for another file"):
        engine.registry.add_adapter(other, file)
    assert "elsewhere" not in {m.id for m in engine.registry.list_models(include_ollama=False)}


def test_names_that_clash_or_leave_the_folder_are_refused(engine: Engine, base_file: Path, tmp_path: Path) -> None:
    file = write_lora(tmp_path / "a.gguf", base_file)
    with pytest.raises(ModelError, match="reserved|already exists"):
        engine.registry.add_adapter(manifest_for(engine, TINY, file), file)
    for bad in ("../escape", "a/b", ".hidden", ""):
        with pytest.raises(ModelError, match="not valid"):
            engine.registry.add_adapter(manifest_for(engine, bad, file), file)
    assert not (engine.settings.home / "escape").exists()


def test_removing_an_adapter_deletes_its_files_and_keeps_the_base(engine: Engine, base_file: Path,
                                                                 tmp_path: Path) -> None:
    file = write_lora(tmp_path / "a.gguf", base_file)
    spec = engine.registry.add_adapter(manifest_for(engine, "short-lived", file), file)
    assert spec.adapter is not None and spec.adapter.exists()
    assert "deleted its files" in engine.registry.remove("short-lived")
    assert not spec.adapter.exists() and base_file.exists()
    assert "short-lived" not in {m.id for m in engine.registry.list_models(include_ollama=False)}


def test_a_damaged_manifest_is_left_out_of_the_list_and_named_when_asked_for(engine: Engine, base_file: Path,
                                                                            tmp_path: Path) -> None:
    file = write_lora(tmp_path / "a.gguf", base_file)
    spec = engine.registry.add_adapter(manifest_for(engine, "broken", file), file)
    assert spec.adapter is not None
    (spec.adapter.parent / "adapter.json").write_text(json.dumps({"name": "broken"}), encoding="utf-8")
    assert "broken" not in {m.id for m in engine.registry.list_models(include_ollama=False)}
    with pytest.raises(ModelError, match="adapter 'broken'"):
        engine.registry.get("broken")


def test_an_adapter_that_does_not_fit_its_base_is_refused_before_llama_cpp_loads_it(
        engine: Engine, base_file: Path, tmp_path: Path) -> None:
    """llama-cpp-python reports an adapter llama.cpp rejected as loaded and then crashes on the first decode: the
    registry must refuse it from the headers first, with one line."""
    foreign = write_lora(tmp_path / "qwen.gguf", base_file, arch="qwen2")  # claims another architecture
    manifest = manifest_for(engine, "foreign", foreign)
    with pytest.raises(ModelError, match="for a qwen2 model; its base is llama"):
        engine.registry.add_adapter(manifest, foreign)
    engine.registry.adapters.save(manifest, foreign)  # put in the folder by hand, past the registry's check
    with pytest.raises(ModelError, match="for a qwen2 model; its base is llama"):
        engine.registry.prepare(engine.registry.get("foreign"))
    with pytest.raises(ModelError, match="adapter 'foreign'"):
        engine.ask("Hi", replace(GREEDY, model="foreign"))
    wrong = write_lora(tmp_path / "narrow.gguf", base_file, targets=("attn_k",))  # k's shape under q's name
    wrong.write_bytes(wrong.read_bytes().replace(b"attn_k", b"attn_q"))
    with pytest.raises(ModelError, match="does not fit its base: blk.0.attn_q.weight has another shape"):
        engine.registry.add_adapter(manifest_for(engine, "narrow", wrong), wrong)
