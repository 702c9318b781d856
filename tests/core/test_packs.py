"""Personalization packs: a real adapter exported from one data folder imports into another, and every bad pack is
refused with one line and nothing written.

Every test marked `attack("packs")` is one hostile pack tried against the promise that import verifies what it is
given: archive safety (paths, links, devices, duplicates, sizes), integrity and signature, format version, the base
model, names. Hostile packs are built here byte by byte, signed by a real Ed25519 key where the attack needs a
signature that holds.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import stat
import struct
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgemind.core.engine import AskOptions, Engine, Models, Packs
from edgemind.core.errors import PackError
from edgemind.core.models.adapters import AdapterManifest, AdapterStore
from edgemind.core.settings import Settings, load_settings
from edgemind.core.tuning.pack_archive import MAX_MEMBER_BYTES, MAX_MEMBERS
from edgemind.core.tuning.packs import MANIFEST, SIGNATURE, Imported
from tests.conftest import DEFAULT, TINY
from tests.support.lora_files import write_lora

ATTACK = pytest.mark.attack("packs")
EDGEMIND = [sys.executable, "-m", "edgemind.core.cli"]
HIDDEN = "the secret prompt about project Zanzibar"
TINY_FILE = "smollm2-135m-instruct-q4_1.gguf"


def model_gguf(path: Path) -> Path:
    """A valid GGUF file that is not an adapter (general.type = model)."""
    gguf = pytest.importorskip("gguf")
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_string("general.type", "model")
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def base_pin(settings: Settings, model_id: str = TINY) -> str:
    pin = Models.open(settings).get(model_id).sha256
    assert pin
    return pin


@pytest.fixture(scope="session")
def lora_file(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real adapter for the tiny model, written once (reading the base's tensor index takes seconds)."""
    return write_lora(tmp_path_factory.mktemp("lora") / "adapter.gguf", models_dir / TINY_FILE, scale=0.5)


def save_adapter(settings: Settings, name: str, gguf_file: Path, *, base_sha: str | None = None) -> Path:
    """An adapter in the data folder as `edgemind tune` leaves one (written straight to the store, so a test can
    also make one for a base it was not tuned on)."""
    AdapterStore(settings.home).save(AdapterManifest(
        name=name, base_model=TINY, base_sha256=base_sha or base_pin(settings), adapter_sha256=sha256(gguf_file),
        rank=4, alpha=8.0, kind="tune",
        data_summary={"examples": 40, "heldout": 4, "first_prompt": HIDDEN, "files": ["notes.jsonl"]},
        evaluation={"heldout": {"loss_before": 3.2, "loss_after": 1.1}, "general_ppl_ratio": 1.01},
        created="2026-12-05T23:00:00+00:00"), gguf_file)
    return gguf_file


@pytest.fixture
def other(env: dict[str, str], tmp_path: Path) -> Settings:
    """A second user: another data folder, the same installed models."""
    return load_settings(env={**env, "EDGEMIND_HOME": str(tmp_path / "other-home")})


@pytest.fixture
def pack(settings: Settings, tmp_path: Path, lora_file: Path) -> Path:
    save_adapter(settings, "my-style", lora_file)
    out = tmp_path / "my-style.empack"
    Packs.open(settings).export(["my-style"], out)
    return out


def import_into(settings: Settings, path: Path, *, rename: str | None = None, trust_signer: bool = False) -> Imported:
    return Packs.open(settings).import_pack(path, rename=rename, trust_signer=trust_signer)


def nothing_written(settings: Settings) -> bool:
    """No adapter, no trusted signer, not even a signing key (an import never makes one)."""
    return AdapterStore(settings.home).list() == [] and not (settings.home / "packs").exists()


# ---- the round trip ------------------------------------------------------------------------------------------------
def test_a_pack_round_trips_into_another_data_folder(settings: Settings, other: Settings, pack: Path) -> None:
    original = AdapterStore(settings.home)
    done = import_into(other, pack, trust_signer=True)
    store = AdapterStore(other.home)
    [record] = store.list()
    assert (record.name, record.base_model, record.kind) == ("my-style", TINY, "pack")
    first = original.get("my-style")
    assert first is not None
    assert record.adapter_sha256 == first.adapter_sha256 == sha256(store.path("my-style"))
    assert store.path("my-style").read_bytes() == original.path("my-style").read_bytes()
    assert record.evaluation == {"heldout": {"loss_before": 3.2, "loss_after": 1.1}, "general_ppl_ratio": 1.01}
    assert done.newly_trusted is True
    # the signer is trusted now: the next pack from them imports without --trust
    import_into(other, pack, rename="my-style-2")
    assert [a.name for a in store.list()] == ["my-style", "my-style-2"]


@pytest.mark.slow  # ~40-100 s: loads the model twice; adapters answering through llama.cpp are in test_adapter_models
def test_an_imported_pack_answers_by_its_name_through_llama_cpp(other: Settings, pack: Path) -> None:
    import_into(other, pack, trust_signer=True)
    engine = Engine.create(other)
    try:
        spec = engine.registry.verify("my-style")  # the base and the adapter file, each against its SHA-256
        assert spec.adapter is not None and spec.base_model == TINY
        greedy = AskOptions(temperature=0.0, seed=7, max_tokens=16, use_cache=False)
        base = engine.ask("What is the capital of France?", greedy)
        tuned = engine.ask("What is the capital of France?", replace(greedy, model="my-style"))
    finally:
        engine.close()
    assert tuned.model == "my-style"
    assert tuned.text != base.text  # the adapter (scale 0.5 on q and v) is applied, not only listed


def test_a_pack_carries_figures_about_the_data_never_the_data(pack: Path) -> None:
    raw = pack.read_bytes()
    with zipfile.ZipFile(pack) as archive:
        manifest = json.loads(archive.read(MANIFEST))
    assert HIDDEN.encode() not in raw and b"notes.jsonl" not in raw
    assert HIDDEN not in json.dumps(manifest)
    assert manifest["adapters"][0]["data_summary"] == {"examples": 40, "heldout": 4}


def test_inspect_verifies_and_shows_the_signer_without_writing(settings: Settings, other: Settings,
                                                               pack: Path) -> None:
    mine = Packs.open(settings).inspect(pack)
    assert mine.own and mine.trusted
    theirs = Packs.open(other).inspect(pack)
    assert not theirs.own and not theirs.trusted
    assert theirs.manifest.fingerprint == Packs.open(settings).fingerprint()
    assert theirs.manifest.fingerprint.startswith("ed25519:")
    assert nothing_written(other)


def test_export_refuses_an_adapter_whose_file_changed_since_it_was_saved(settings: Settings, tmp_path: Path,
                                                                         lora_file: Path) -> None:
    save_adapter(settings, "drifted", lora_file)
    path = AdapterStore(settings.home).path("drifted")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(PackError, match="changed since it was saved"):
        Packs.open(settings).export(["drifted"], tmp_path / "x.empack")
    assert not (tmp_path / "x.empack").exists()


# ---- hostile packs -------------------------------------------------------------------------------------------------
def members_of(pack: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(pack) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def adapter_member(members: dict[str, bytes]) -> str:
    return next(name for name in members if name.endswith(".gguf"))


def rezip(path: Path, members: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for info, data in members:
            archive.writestr(info, data)
    return path


def resigned(pack: Path, out: Path, change: object = None, key: Ed25519PrivateKey | None = None,
             extra: dict[str, bytes] | None = None) -> Path:
    """The pack's members with its manifest changed by `change` and signed again by `key` (a valid signature)."""
    members = members_of(pack)
    manifest = json.loads(members[MANIFEST])
    if callable(change):
        change(manifest)
    key = key or Ed25519PrivateKey.generate()
    manifest["signer"]["public_key"] = base64.b64encode(key.public_key().public_bytes_raw()).decode()
    body = json.dumps(manifest).encode()
    members.update({MANIFEST: body, SIGNATURE: key.sign(body)}, **(extra or {}))
    return rezip(out, list(members.items()))


def refused(settings: Settings, path: Path, match: str, **options: object) -> None:
    with pytest.raises(PackError, match=match) as caught:
        import_into(settings, path, **options)
    assert "\n" not in str(caught.value)
    assert nothing_written(settings)


@ATTACK
def test_a_pack_for_another_base_model_is_refused(settings: Settings, other: Settings, tmp_path: Path,
                                                  lora_file: Path) -> None:
    # claims the tiny model's id with the default model's pin: the installed tiny model has another SHA-256
    save_adapter(settings, "wrong-base", lora_file, base_sha=base_pin(settings, DEFAULT))
    out = tmp_path / "wrong.empack"
    Packs.open(settings).export(["wrong-base"], out)
    refused(other, out, "built for base model", trust_signer=True)


@ATTACK
def test_a_pack_for_a_base_model_not_installed_is_refused(other: Settings, pack: Path, tmp_path: Path) -> None:
    def elsewhere(m: dict) -> None:
        m["base_model"] = {"id": "llama-3-8b", "sha256": "ab" * 32}
    refused(other, resigned(pack, tmp_path / "p.empack", elsewhere), "not installed here", trust_signer=True)


@ATTACK
@pytest.mark.parametrize("damage", ["truncated", "not-an-archive", "empty"])
def test_a_damaged_file_is_refused(other: Settings, pack: Path, tmp_path: Path, damage: str) -> None:
    raw = pack.read_bytes()
    data = {"truncated": raw[: len(raw) // 2], "not-an-archive": b"GGUF" + raw[4:2000], "empty": b""}[damage]
    bad = tmp_path / "bad.empack"
    bad.write_bytes(data)
    refused(other, bad, "not a pack|damaged", trust_signer=True)


@ATTACK
def test_a_tampered_adapter_is_refused(other: Settings, pack: Path, tmp_path: Path) -> None:
    members = members_of(pack)
    name = adapter_member(members)
    changed = bytearray(members[name])
    changed[-10] ^= 0x01  # one bit of one weight: same size, valid zip (new CRC), old signed SHA-256
    members[name] = bytes(changed)
    refused(other, rezip(tmp_path / "t.empack", list(members.items())), "does not match the signed manifest",
            trust_signer=True)


@ATTACK
def test_a_tampered_manifest_is_refused(other: Settings, pack: Path, tmp_path: Path) -> None:
    members = members_of(pack)
    members[MANIFEST] = members[MANIFEST].replace(b'"rank": 4', b'"rank": 8')
    refused(other, rezip(tmp_path / "t.empack", list(members.items())), "signature does not match",
            trust_signer=True)


@ATTACK
def test_a_pack_re_signed_by_an_unknown_key_is_refused_without_trust(other: Settings, pack: Path,
                                                                      tmp_path: Path) -> None:
    refused(other, resigned(pack, tmp_path / "r.empack"), "unknown key ed25519:")


@ATTACK
@pytest.mark.parametrize("name", ["../evil.gguf", "/etc/evil.gguf", "adapters/../../evil.gguf", "..\\evil.gguf",
                                  "C:/evil.gguf", "adapters//evil.gguf"])
def test_a_path_traversing_or_absolute_member_is_refused(other: Settings, pack: Path, tmp_path: Path,
                                                         name: str) -> None:
    members = list(members_of(pack).items()) + [(name, b"x")]
    refused(other, rezip(tmp_path / "p.empack", members), "unsafe member name", trust_signer=True)
    assert not (tmp_path / "evil.gguf").exists()


@ATTACK
@pytest.mark.parametrize("kind", ["symlink", "char-device", "fifo", "folder"])
def test_a_link_device_or_folder_member_is_refused(other: Settings, pack: Path, tmp_path: Path, kind: str) -> None:
    members = members_of(pack)
    name = adapter_member(members)
    info = zipfile.ZipInfo(name + ("/" if kind == "folder" else ""))
    info.create_system = 3
    mode = {"symlink": stat.S_IFLNK, "char-device": stat.S_IFCHR, "fifo": stat.S_IFIFO, "folder": stat.S_IFDIR}[kind]
    info.external_attr = (mode | 0o644) << 16
    data = members.pop(name)
    data = {"symlink": b"/etc/passwd", "folder": b""}.get(kind, data)
    rows: list[tuple[zipfile.ZipInfo | str, bytes]] = [*members.items(), (info, data)]
    refused(other, rezip(tmp_path / "l.empack", rows), "symbolic link|not a regular file|folder entry",
            trust_signer=True)


@ATTACK
@pytest.mark.parametrize("second", ["same", "other-case"])
def test_duplicate_members_are_refused(other: Settings, pack: Path, tmp_path: Path, second: str) -> None:
    members = members_of(pack)
    name = adapter_member(members)
    twin = name if second == "same" else name.upper()
    with pytest.warns(UserWarning, match="Duplicate name") if second == "same" else contextlib.nullcontext():
        path = rezip(tmp_path / "d.empack", [*members.items(), (twin, b"shadow")])
    refused(other, path, "appears twice", trust_signer=True)


def _patch_sizes(path: Path, member: str, size: int) -> None:
    """Rewrite the uncompressed size a member's local header and central directory entry declare."""
    raw = bytearray(path.read_bytes())
    encoded = member.encode()
    local = raw.find(b"PK\x03\x04")
    while local != -1:
        name_len = struct.unpack_from("<H", raw, local + 26)[0]
        if raw[local + 30: local + 30 + name_len] == encoded:
            struct.pack_into("<I", raw, local + 22, size)
        local = raw.find(b"PK\x03\x04", local + 4)
    central = raw.find(b"PK\x01\x02")
    while central != -1:
        name_len = struct.unpack_from("<H", raw, central + 28)[0]
        if raw[central + 46: central + 46 + name_len] == encoded:
            struct.pack_into("<I", raw, central + 24, size)
        central = raw.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(raw))


@ATTACK
def test_a_member_declaring_a_bomb_size_is_refused_before_extraction(other: Settings, pack: Path,
                                                                     tmp_path: Path) -> None:
    members = members_of(pack)
    name = adapter_member(members)
    bomb = rezip(tmp_path / "b.empack", [*members.items()])
    _patch_sizes(bomb, name, MAX_MEMBER_BYTES + 1)
    refused(other, bomb, "zip bomb", trust_signer=True)


@ATTACK
def test_a_member_inflating_past_its_declared_size_is_stopped_while_extracting(other: Settings, pack: Path,
                                                                               tmp_path: Path) -> None:
    # 64 MB of zeros deflate to ~64 KB; the headers (and a signed manifest) claim 1,000 bytes
    members = members_of(pack)
    name = adapter_member(members)
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED

    def claims_1000(m: dict) -> None:
        m["adapters"][0]["size_bytes"] = 1000

    signed = members_of(resigned(pack, tmp_path / "s.empack", claims_1000))
    del signed[name]
    bomb = rezip(tmp_path / "b.empack", [*signed.items(), (info, bytes(64 * 1024 * 1024))])
    _patch_sizes(bomb, name, 1000)
    refused(other, bomb, "inflates past|damaged", trust_signer=True)


@ATTACK
def test_an_unknown_format_version_is_refused(other: Settings, pack: Path, tmp_path: Path) -> None:
    def newer(m: dict) -> None:
        m["format_version"] = 2
    refused(other, resigned(pack, tmp_path / "v.empack", newer), "format version 2 is unknown", trust_signer=True)


@ATTACK
def test_a_member_not_in_the_signed_manifest_is_refused(other: Settings, pack: Path, tmp_path: Path) -> None:
    members = list(members_of(pack).items()) + [("adapters/extra.gguf", b"GGUF")]
    refused(other, rezip(tmp_path / "e.empack", members), "not listed in the signed manifest", trust_signer=True)


@ATTACK
def test_an_unsafe_adapter_name_in_a_signed_manifest_is_refused(other: Settings, pack: Path, tmp_path: Path) -> None:
    def escape(m: dict) -> None:
        m["adapters"][0]["name"] = "../../models/evil"
    refused(other, resigned(pack, tmp_path / "n.empack", escape), "adapter name .* is not valid", trust_signer=True)


@ATTACK
def test_a_signed_member_that_is_not_a_lora_adapter_is_refused(settings: Settings, other: Settings,
                                                               tmp_path: Path) -> None:
    save_adapter(settings, "fake", model_gguf(tmp_path / "model.gguf"))
    out = tmp_path / "fake.empack"
    Packs.open(settings).export(["fake"], out)
    refused(other, out, "not a LoRA adapter", trust_signer=True)


@ATTACK
@pytest.mark.parametrize("clash", ["bundled-model", "existing-adapter"])
def test_a_name_that_clashes_with_an_existing_model_is_refused_unless_renamed(
        settings: Settings, other: Settings, tmp_path: Path, lora_file: Path, clash: str) -> None:
    name = TINY if clash == "bundled-model" else "taken"
    if clash == "existing-adapter":
        save_adapter(other, "taken", lora_file)
    save_adapter(settings, name, lora_file)
    out = tmp_path / "c.empack"
    Packs.open(settings).export([name], out)
    before = [a.name for a in AdapterStore(other.home).list()]
    with pytest.raises(PackError, match="already exists; import under another name with --name"):
        import_into(other, out, trust_signer=True)
    assert [a.name for a in AdapterStore(other.home).list()] == before
    assert not (other.home / "packs").exists()
    import_into(other, out, trust_signer=True, rename="renamed")
    assert "renamed" in [a.name for a in AdapterStore(other.home).list()]


# ---- the command ---------------------------------------------------------------------------------------------------
def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EDGEMIND, *args], capture_output=True, text=True, env=env, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_pack_commands_export_inspect_and_import(settings: Settings, cli_env: dict[str, str], tmp_path: Path,
                                                 lora_file: Path) -> None:
    save_adapter(settings, "cli-style", lora_file)
    out = tmp_path / "cli-style.empack"
    done = cli(["pack", "export", "cli-style", "-o", str(out), "--json"], cli_env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["adapters"][0]["name"] == "cli-style"
    other_env = {**cli_env, "EDGEMIND_HOME": str(tmp_path / "other")}
    shown = cli(["pack", "inspect", str(out)], other_env)
    assert shown.returncode == 0 and "not trusted" in shown.stdout and "ed25519:" in shown.stdout, shown.stdout
    first = cli(["pack", "import", str(out)], other_env)
    assert first.returncode == 2 and first.stderr.count("\n") == 1 and "--trust" in first.stderr, first.stderr
    second = cli(["pack", "import", str(out), "--trust", "--json"], other_env)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["imported"] == ["cli-style"]
    listed = cli(["pack", "import", str(out), "--name", "again"], other_env)
    assert listed.returncode == 0 and "again" in listed.stdout, listed.stderr


@ATTACK
def test_a_pack_with_too_many_members_is_refused(other: Settings, pack: Path, tmp_path: Path) -> None:
    members = list(members_of(pack).items()) + [(f"adapters/n{i}.gguf", b"") for i in range(MAX_MEMBERS)]
    refused(other, rezip(tmp_path / "m.empack", members), "archive members", trust_signer=True)


@ATTACK
def test_a_deeply_nested_manifest_is_refused_as_damaged(other: Settings, pack: Path, tmp_path: Path) -> None:
    members = members_of(pack)
    members[MANIFEST] = b"[" * 200_000 + b"]" * 200_000
    refused(other, rezip(tmp_path / "j.empack", list(members.items())), "manifest is not JSON", trust_signer=True)


@ATTACK
@pytest.mark.parametrize("field", ["base-model-id", "created", "kind"])
def test_terminal_escapes_in_a_signed_manifest_are_refused(other: Settings, pack: Path, tmp_path: Path,
                                                           field: str) -> None:
    # `pack inspect` prints these: an escape sequence could rewrite what the user reads before trusting a signer
    def hostile(m: dict) -> None:
        if field == "base-model-id":
            m["base_model"]["id"] = "smollm2\x1b[2J\x1b[1;1Hsigned by you"
        elif field == "created":
            m["created"] = "2026\x1b]0;owned\x07"
        else:
            m["adapters"][0]["kind"] = "tune\x1b[8m"
    path = resigned(pack, tmp_path / "e.empack", hostile)
    refused(other, path, "model id|not a date|kind is not one of", trust_signer=True)
    with pytest.raises(PackError) as caught:
        Packs.open(other).inspect(path)
    assert "\x1b" not in str(caught.value)


@ATTACK
@pytest.mark.parametrize("dropped", ["adapter", "signature"])
def test_a_pack_missing_a_signed_member_or_its_signature_is_refused(other: Settings, pack: Path, tmp_path: Path,
                                                                    dropped: str) -> None:
    members = members_of(pack)
    del members[adapter_member(members) if dropped == "adapter" else SIGNATURE]
    refused(other, rezip(tmp_path / "m.empack", list(members.items())), "missing|has no manifest.sig",
            trust_signer=True)


def test_a_first_import_on_a_terminal_asks_before_trusting_the_signer(cli_env: dict[str, str], pack: Path,
                                                                      tmp_path: Path) -> None:
    pty = pytest.importorskip("pty", reason="pseudo-terminals are POSIX")
    other_env = {**cli_env, "EDGEMIND_HOME": str(tmp_path / "asked")}

    def answer(text: bytes) -> subprocess.CompletedProcess[str]:
        leader, follower = pty.openpty()  # stdin is a terminal: the command asks instead of refusing at once
        try:
            os.write(leader, text)
            return subprocess.run([*EDGEMIND, "pack", "import", str(pack)], stdin=follower, capture_output=True,
                                  text=True, env=other_env, timeout=120)
        finally:
            os.close(leader)
            os.close(follower)

    declined = answer(b"n\n")
    assert declined.returncode == 2 and "trust packs signed by ed25519:" in declined.stdout, declined.stdout
    assert "--trust" in declined.stderr and not (tmp_path / "asked" / "adapters").exists()
    accepted = answer(b"y\n")
    assert accepted.returncode == 0 and "trusted from now on" in accepted.stdout, accepted.stderr
