"""`edgemind models pull`: a catalogue model downloaded from a hub mirror on 127.0.0.1 (never the real hub), resumed
after a drop, checked against its SHA-256 pin before it is installed and registered."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from edgemind.core.cli.pull_command import hub_url
from edgemind.core.engine import Models
from edgemind.core.errors import ConfigError, DownloadError, ModelError, ModelIntegrityError, ModelNotFound
from edgemind.core.models.catalog import CatalogEntry, find_entry, load_catalog, parse_catalog
from edgemind.core.models.download import NoDowngrade, part_path
from edgemind.core.models.pull import PullOutcome, pulled_path
from edgemind.core.settings import Settings, load_settings
from tests.core.test_cli import EDGEMIND, edgemind
from tests.support.hub_mirror import hub_mirror
from tests.support.signals import default_ctrl_c

TINY_FILE = "smollm2-135m-instruct-q4_1.gguf"
TINY_SHA = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
REV = "0123456789abcdef0123456789abcdef01234567"
URL_PATH = f"/test/Tiny-GGUF/resolve/{REV}/tiny-pull.gguf"


def assert_one_line_error(proc: subprocess.CompletedProcess[str], says: str) -> None:
    """Exit 1, no traceback, and one error line (after the progress lines a pull writes when stderr is no terminal)."""
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("edgemind: error: ")]
    assert errors == [lines[-1]] and "Traceback" not in proc.stderr, proc.stderr
    assert says in lines[-1]


def _catalog(tmp_path: Path, size: int, sha: str = TINY_SHA, file: str = "tiny-pull.gguf") -> Path:
    path = tmp_path / "catalog.toml"
    path.write_text(f"""
[[model]]
id = "tiny-pull"
name = "SmolLM2 135M, served by the test mirror"
repo = "test/Tiny-GGUF"
revision = "{REV}"
file = "{file}"
size_bytes = {size}
sha256 = "{sha}"
params_b = 0.135
license = "Apache-2.0"
""")
    return path


@pytest.fixture
def tiny(models_dir: Path) -> Path:
    return models_dir / TINY_FILE


@pytest.fixture
def entry(tmp_path: Path, tiny: Path) -> CatalogEntry:
    return load_catalog(_catalog(tmp_path, tiny.stat().st_size))[0]


@pytest.fixture
def pull_env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The test's own models folder: pulled files never land in the run's shared one."""
    return dict(env, EDGEMIND_MODELS_DIR=str(tmp_path / "models"))


@pytest.fixture
def settings(pull_env: dict[str, str]) -> Settings:
    return load_settings(env=pull_env)


def _pull(settings: Settings, entry: CatalogEntry, base: str) -> PullOutcome:
    return Models.open(settings).pull(entry, base, settings.models_dir, timeout=10)


def test_pull_downloads_verifies_installs_and_registers_then_a_second_pull_does_nothing(
        cli_env: dict[str, str], pull_env: dict[str, str], tmp_path: Path, tiny: Path) -> None:
    catalog = _catalog(tmp_path, tiny.stat().st_size)
    with hub_mirror({URL_PATH: tiny}) as (base, state):
        env = dict(cli_env, **pull_env, EDGEMIND_MODEL_HUB_URL=base)
        proc = edgemind(env, "models", "pull", "tiny-pull", "--catalog", str(catalog), "--json")
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        assert out["state"] == "pulled" and out["sha256"] == TINY_SHA and out["downloaded"] == tiny.stat().st_size
        installed = Path(out["path"])
        assert installed == Path(pull_env["EDGEMIND_MODELS_DIR"]) / "hub" / "tiny-pull.gguf"
        assert installed.read_bytes() == tiny.read_bytes() and not part_path(installed).exists()
        listed = json.loads(edgemind(env, "models", "list", "--json", "--no-ollama").stdout)
        row = next(r for r in listed if r["id"] == "tiny-pull")
        assert row["sha256"] == TINY_SHA and row["installed"] and row["family"] == "llama"
        again = json.loads(edgemind(env, "models", "pull", "tiny-pull", "--catalog", str(catalog), "--json").stdout)
        assert again["state"] == "installed"
        assert len(state.requests) == 1  # the second pull never asked the hub


def test_a_connection_dropped_halfway_is_resumed_with_a_range_request(
        settings: Settings, entry: CatalogEntry, tiny: Path) -> None:
    with hub_mirror({URL_PATH: tiny}, mode="drop_once") as (base, state):
        outcome = _pull(settings, entry, base)
    half = tiny.stat().st_size // 2
    assert state.requests == [(URL_PATH, None), (URL_PATH, f"bytes={half}-")]
    assert outcome.state == "pulled" and outcome.spec.sha256 == TINY_SHA
    assert outcome.spec.path is not None and outcome.spec.path.read_bytes() == tiny.read_bytes()


def test_a_pull_that_keeps_failing_keeps_its_part_file_and_the_next_pull_resumes_it(
        settings: Settings, entry: CatalogEntry, tiny: Path) -> None:
    part = part_path(pulled_path(settings.models_dir, entry))
    with hub_mirror({URL_PATH: tiny}, mode="drop_always") as (base, state):
        with pytest.raises(DownloadError, match="partial file .* is kept: run the same command to resume"):
            _pull(settings, entry, base)
        kept = part.stat().st_size
        assert 0 < kept < tiny.stat().st_size
        with pytest.raises(ModelNotFound):
            Models.open(settings).get("tiny-pull")
        state.mode, state.requests = "ok", []
        outcome = _pull(settings, entry, base)
    assert state.requests == [(URL_PATH, f"bytes={kept}-")]
    assert outcome.resumed_from == kept and outcome.downloaded == tiny.stat().st_size - kept
    assert outcome.spec.path is not None and outcome.spec.path.read_bytes() == tiny.read_bytes()


def test_bytes_that_miss_the_pinned_hash_are_deleted_and_never_registered(
        cli_env: dict[str, str], pull_env: dict[str, str], tmp_path: Path, tiny: Path) -> None:
    catalog = _catalog(tmp_path, tiny.stat().st_size)
    with hub_mirror({URL_PATH: tiny}, mode="wrong_bytes") as (base, _):
        env = dict(cli_env, **pull_env, EDGEMIND_MODEL_HUB_URL=base)
        proc = edgemind(env, "models", "pull", "tiny-pull", "--catalog", str(catalog))
    assert_one_line_error(proc, says="not the pinned one")
    hub = Path(pull_env["EDGEMIND_MODELS_DIR"]) / "hub"
    assert list(hub.iterdir()) == []
    listed = json.loads(edgemind(env, "models", "list", "--json", "--no-ollama").stdout)
    assert "tiny-pull" not in [r["id"] for r in listed]


def test_a_server_that_ignores_range_restarts_the_file_from_byte_zero(
        settings: Settings, entry: CatalogEntry, tiny: Path) -> None:
    part = part_path(pulled_path(settings.models_dir, entry))
    part.parent.mkdir(parents=True)
    part.write_bytes(tiny.read_bytes()[:1000])
    with hub_mirror({URL_PATH: tiny}, mode="no_range") as (base, state):
        outcome = _pull(settings, entry, base)
    assert state.requests == [(URL_PATH, "bytes=1000-")]
    assert outcome.spec.path is not None and outcome.spec.path.read_bytes() == tiny.read_bytes()


def test_an_unreachable_hub_is_one_line_naming_the_host(
        cli_env: dict[str, str], pull_env: dict[str, str], tmp_path: Path, tiny: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(cli_env, **pull_env, EDGEMIND_MODEL_HUB_URL=f"http://127.0.0.1:{port}")
    proc = edgemind(env, "models", "pull", "tiny-pull", "--catalog", str(_catalog(tmp_path, tiny.stat().st_size)))
    assert_one_line_error(proc, says=f"cannot reach 127.0.0.1:{port}")


def test_a_file_the_hub_does_not_have_is_a_404_error(settings: Settings, tmp_path: Path, tiny: Path) -> None:
    entry = load_catalog(_catalog(tmp_path, tiny.stat().st_size, file="other.gguf"))[0]
    with hub_mirror({URL_PATH: tiny}) as (base, _), pytest.raises(DownloadError, match="HTTP 404"):
        _pull(settings, entry, base)


def test_not_enough_disk_space_stops_before_the_first_request(
        settings: Settings, tmp_path: Path, tiny: Path) -> None:
    entry = load_catalog(_catalog(tmp_path, 10**16))[0]  # 10 PB: no disk here holds that
    with hub_mirror({URL_PATH: tiny}) as (base, state), pytest.raises(DownloadError, match="not enough disk space"):
        _pull(settings, entry, base)
    assert state.requests == []


def test_hf_endpoint_sets_the_hub_unless_the_setting_does(settings: Settings) -> None:
    assert hub_url(settings, {}) == "https://huggingface.co"
    assert hub_url(settings, {"HF_ENDPOINT": "https://hf-mirror.example"}) == "https://hf-mirror.example"
    own = load_settings(env={"EDGEMIND_HOME": str(settings.home), "EDGEMIND_MODEL_HUB_URL": "https://mine.example"})
    assert hub_url(own, {"HF_ENDPOINT": "https://hf-mirror.example"}) == "https://mine.example"


def test_the_shipped_catalogue_pins_every_model_by_revision_size_and_hash() -> None:
    entries = load_catalog()
    assert len(entries) >= 3
    for e in entries:
        assert len(e.sha256) == 64 and len(e.revision) == 40 and e.size_bytes > 100_000_000 and e.params_b >= 1
        assert e.url("https://huggingface.co/") == f"https://huggingface.co/{e.repo}/resolve/{e.revision}/{e.file}"
    with pytest.raises(ModelNotFound, match="models you can pull: qwen2.5-1.5b"):
        find_entry(entries, "gpt-5")


@pytest.mark.parametrize("line, says", [
    ('sha256 = "abc"', "`sha256` 'abc' is not valid"),
    ('revision = "main"', "`revision` 'main' is not valid"),
    ('file = "../../etc/passwd.gguf"', "`file`"),
    ('size_bytes = "big"', "`size_bytes` must be a int"),
])
def test_a_bad_catalogue_entry_is_a_config_error_naming_the_key(tmp_path: Path, line: str, says: str) -> None:
    text = _catalog(tmp_path, 1000).read_text()
    key = line.split(" =")[0]
    text = "\n".join(line if row.startswith(key + " =") else row for row in text.splitlines())
    with pytest.raises(ConfigError, match=re.escape(says)):
        parse_catalog(text)


def test_a_file_already_in_place_with_another_hash_is_refused(settings: Settings, entry: CatalogEntry,
                                                               tiny: Path) -> None:
    dest = pulled_path(settings.models_dir, entry)
    dest.parent.mkdir(parents=True)
    dest.write_bytes(bytes(tiny.stat().st_size))
    with pytest.raises(ModelIntegrityError, match="is not the pinned tiny-pull"):
        _pull(settings, entry, "http://127.0.0.1:9")


def test_ctrl_c_stops_a_pull_keeps_the_part_file_and_says_how_to_resume(
        cli_env: dict[str, str], pull_env: dict[str, str], tmp_path: Path, tiny: Path) -> None:
    catalog = _catalog(tmp_path, tiny.stat().st_size)
    part = Path(pull_env["EDGEMIND_MODELS_DIR"]) / "hub" / "tiny-pull.gguf.part"
    with hub_mirror({URL_PATH: tiny}, mode="slow") as (base, _):
        env = dict(cli_env, **pull_env, EDGEMIND_MODEL_HUB_URL=base)
        proc = subprocess.Popen([*EDGEMIND, "models", "pull", "tiny-pull", "--catalog", str(catalog)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_ctrl_c)
        deadline = time.monotonic() + 60
        while not (part.exists() and part.stat().st_size > 4_000_000) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "run the same command to resume" in err and "Traceback" not in err
    assert 4_000_000 <= part.stat().st_size < tiny.stat().st_size
    assert not (part.parent / "tiny-pull.gguf").exists()


def test_a_resume_follows_the_hubs_redirect_and_keeps_its_range(
        settings: Settings, entry: CatalogEntry, tiny: Path) -> None:
    with hub_mirror({URL_PATH: tiny}, mode="drop_once") as (base, state):
        state.redirect = True
        outcome = _pull(settings, entry, base)
    half = tiny.stat().st_size // 2
    assert state.requests == [(URL_PATH, None), ("/cdn" + URL_PATH, None),
                              (URL_PATH, f"bytes={half}-"), ("/cdn" + URL_PATH, f"bytes={half}-")]
    assert outcome.spec.path is not None and outcome.spec.path.read_bytes() == tiny.read_bytes()


def test_an_id_already_taken_by_another_file_is_refused_not_reported_installed(
        settings: Settings, entry: CatalogEntry, tiny_copy: Path) -> None:
    tiny_copy.write_bytes(tiny_copy.read_bytes()[:-1] + b"x")  # another file, still GGUF
    Models.open(settings).add_gguf(tiny_copy, "tiny-pull")
    with pytest.raises(ModelError, match="already registered and is not this catalogue file"):
        _pull(settings, entry, "http://127.0.0.1:9")


def test_removing_a_pulled_model_deletes_its_file_but_an_added_file_stays(
        settings: Settings, entry: CatalogEntry, tiny: Path, tiny_copy: Path) -> None:
    with hub_mirror({URL_PATH: tiny}) as (base, _):
        pulled = _pull(settings, entry, base).spec.path
    models = Models.open(settings)
    added = models.add_gguf(tiny_copy, "added-by-hand")
    assert pulled is not None and "deleted its pulled file" in models.remove("tiny-pull")
    assert not pulled.exists()
    assert "left in place" in models.remove(added.id) and tiny_copy.exists()


def test_a_redirect_from_https_to_plain_http_is_refused() -> None:
    request = urllib.request.Request("https://huggingface.co/a/b/resolve/" + REV + "/m.gguf")
    with pytest.raises(DownloadError, match="redirected the download to a non-https address"):
        NoDowngrade().redirect_request(request, None, 302, "Found", {}, "http://cdn.example/m.gguf")
    followed = NoDowngrade().redirect_request(request, None, 302, "Found", {}, "https://cdn.example/m.gguf")
    assert followed is not None and followed.full_url == "https://cdn.example/m.gguf"
