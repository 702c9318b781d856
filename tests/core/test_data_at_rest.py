"""Data at rest, attacked as a second local user, a killed process and an in-place file edit would attack it.

Every test marked `attack("data-at-rest")` is one attack tried against a README promise: the data folder is private
(0700, files 0600), remote API keys stay out of the database, `history delete` leaves no cached answer behind when
killed half-way, a model file changed in place is refused in one line, and bad bytes on the command line are one line.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from sqlalchemy.orm import sessionmaker

from edgemind.core.api.keys import load_or_create_api_key
from edgemind.core.cache.answers import AnswerCache, CachedAnswer
from edgemind.core.data_folder import secure_data_folder
from edgemind.core.engine.services import Conversations, Models
from edgemind.core.errors import ConfigError, ModelIntegrityError, StoreError
from edgemind.core.models.integrity import fingerprint
from edgemind.core.models.registry import ModelRegistry
from edgemind.core.settings import Settings, load_settings, save_settings
from edgemind.core.storage.conversations import ConversationStore
from edgemind.core.storage.db import open_database
from edgemind.kernels.gguf_header import read_gguf_header
from tests.conftest import TINY
from tests.keyring_standin import StandInOSKeyring, stand_in_keyring

EDGEMIND = [sys.executable, "-m", "edgemind.core.cli"]
ATTACK = pytest.mark.attack("data-at-rest")


# ---- a second local user -------------------------------------------------------------------------------------------
def _nobody() -> tuple[int, int]:
    try:
        user = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no `nobody` user on this machine")
    return user.pw_uid, user.pw_gid


def _readable_by_another_user(paths: list[Path]) -> list[str]:
    """The paths `nobody` can open for reading (or list, for folders): tried in a forked child that drops to that
    user, so it is the kernel's answer, not a reading of mode bits."""
    uid, gid = _nobody()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only system calls until _exit, no Python machinery that could hold a lock
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            found = []
            for path in paths:
                try:
                    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
                    if path.is_dir():
                        os.listdir(fd)
                    else:
                        os.read(fd, 1)
                    os.close(fd)
                    found.append(str(path))
                except OSError:
                    pass
            os.write(write_end, "\n".join(found).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        out = f.read().decode()
    os.waitpid(pid, 0)
    return [line for line in out.splitlines() if line]


@pytest.fixture
def open_parent() -> Iterator[Path]:
    """A folder other users may enter, as a user's home often is (pytest's own temp root is 0700, which would hide
    the data folder from `nobody` whatever EdgeMind did)."""
    if os.geteuid() != 0:
        pytest.skip("trying files as another user needs root to switch to it")
    base = Path(tempfile.mkdtemp(prefix="edgemind-at-rest-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _cli(env: dict[str, str], *args: str, umask: int = 0o022, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EDGEMIND, *args], env=env, capture_output=True, text=True, timeout=timeout, umask=umask)


def _every_path(home: Path) -> list[Path]:
    return [home, *sorted(home.rglob("*"))]


_PRIVATE_FILES = ("edgemind.db", "edgemind.db-wal", "edgemind.db-shm", "cache.db", "cache.db-wal", "cache.db-shm",
                  "api_key", "audit.key", "settings.toml", "logs/native-crash.log")


def _normal_run(home: Path, cli_env: dict[str, str], umask: int) -> None:
    """What a user's first day leaves behind: an answer (database, cache, audit key, logs), a saved setting and the
    API key."""
    env = {**cli_env, "EDGEMIND_HOME": str(home)}
    proc = _cli(env, "ask", "Say hi", "--model", TINY, "--max-tokens", "4", "--json", umask=umask)
    assert proc.returncode == 0, proc.stderr
    old = os.umask(umask)
    try:
        save_settings(home, {"max_tokens": 300})
        load_or_create_api_key(home)
    finally:
        os.umask(old)


@ATTACK
@pytest.mark.parametrize("umask", [0o022, 0o000], ids=["umask-022", "umask-000"])
def test_another_local_user_cannot_read_anything_a_normal_run_wrote(open_parent: Path, cli_env: dict[str, str],
                                                                      umask: int) -> None:
    home = open_parent / "EdgeMind"
    _normal_run(home, cli_env, umask)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for name in _PRIVATE_FILES:
        path = home / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{name} is {stat.S_IMODE(path.stat().st_mode):o}"
    assert (home / "edgemind.db").exists() and (home / "api_key").exists() and (home / "settings.toml").exists()
    assert _readable_by_another_user(_every_path(home)) == []


@ATTACK
def test_a_data_folder_left_open_by_an_older_version_is_made_private_on_open(open_parent: Path,
                                                                                cli_env: dict[str, str]) -> None:
    """An older EdgeMind left the folder 0755 and its database 0644: the next start tightens them and says so."""
    home = open_parent / "EdgeMind"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    with sqlite3.connect(home / "edgemind.db") as con:
        con.execute("CREATE TABLE notes (body TEXT)")
        con.execute("INSERT INTO notes VALUES ('my secret conversation')")
    (home / "edgemind.db").chmod(0o644)
    (home / "logs").mkdir(mode=0o755)
    (home / "logs" / "crash.log").write_text("old traceback\n")
    (home / "logs" / "crash.log").chmod(0o644)
    assert _readable_by_another_user([home / "edgemind.db"]) == [str(home / "edgemind.db")]  # the attack works today

    proc = _cli({**cli_env, "EDGEMIND_HOME": str(home)}, "history", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    notices = [line for line in proc.stderr.splitlines() if "made it private" in line]
    assert len(notices) == 1 and str(home) in notices[0], proc.stderr
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "edgemind.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "logs" / "crash.log").stat().st_mode) == 0o600
    assert _readable_by_another_user(_every_path(home)) == []


# ---- remote API keys -----------------------------------------------------------------------------------------------
@pytest.fixture
def os_keyring() -> Iterator[StandInOSKeyring]:
    with stand_in_keyring() as stand_in:
        yield stand_in


@pytest.fixture
def no_keyring() -> Iterator[None]:
    """The machine as it is here: no keyring backend works (keyring's own `fail` backend)."""
    from keyring.backends import fail

    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(before)


REMOTE_KEY = "sk-remote-ATTACK-7f3a9c1e5b2d4f6a8c0e"


@pytest.fixture
def keyring_settings(env: dict[str, str]) -> Settings:
    """As a user has it: secrets go to the OS keyring when one works (the test env pins them to files otherwise)."""
    return load_settings(env={**env, "EDGEMIND_AUDIT_KEY_STORE": "auto"})


def _files_holding(home: Path, secret: str) -> list[str]:
    return sorted(str(p.relative_to(home)) for p in home.rglob("*")
                  if p.is_file() and secret.encode() in p.read_bytes())


@ATTACK
def test_a_remote_key_is_in_the_os_keyring_and_in_no_file_of_the_data_folder(keyring_settings: Settings,
                                                                               os_keyring: StandInOSKeyring) -> None:
    settings = keyring_settings
    models = Models.open(settings)
    models.add_openai("http://127.0.0.1:9/v1", "big-model", REMOTE_KEY, "remote")
    assert Models.open(settings).get("remote").api_key == REMOTE_KEY  # the backend still gets it
    assert REMOTE_KEY in os_keyring.items.values()
    assert _files_holding(settings.home, REMOTE_KEY) == []


@ATTACK
def test_without_a_keyring_a_remote_key_is_never_in_the_database(keyring_settings: Settings,
                                                                  no_keyring: None) -> None:
    settings = keyring_settings
    Models.open(settings).add_openai("http://127.0.0.1:9/v1", "big-model", REMOTE_KEY, "remote")
    assert Models.open(settings).get("remote").api_key == REMOTE_KEY
    holding = _files_holding(settings.home, REMOTE_KEY)
    assert not [name for name in holding if name.startswith("edgemind.db")], holding
    for name in holding:  # the fallback: a file only the user can read
        assert stat.S_IMODE((settings.home / name).stat().st_mode) == 0o600


@ATTACK
def test_a_plain_key_an_older_version_stored_in_the_database_is_moved_out(keyring_settings: Settings,
                                                                          os_keyring: StandInOSKeyring) -> None:
    settings = keyring_settings
    open_database(settings.db_path).dispose()
    with sqlite3.connect(settings.db_path) as con:  # as versions before this one stored it
        con.execute("INSERT INTO user_models (id, backend, endpoint, remote_model, api_key, context_length, family, "
                    "added_at) VALUES ('old', 'openai', 'http://127.0.0.1:9/v1', 'm', ?, 0, '', "
                    "'2025-01-01 00:00:00')", (REMOTE_KEY,))
    assert Models.open(settings).get("old").api_key == REMOTE_KEY
    assert _files_holding(settings.home, REMOTE_KEY) == []


# ---- history delete killed between its two databases ---------------------------------------------------------------
_DELETER = """
import sys
from edgemind.core.engine.services import Conversations
from edgemind.core.settings import load_settings
conversations = Conversations.open(load_settings())
print("ready", flush=True)
sys.stdin.readline()
conversations.delete(sys.argv[1])
print("deleted", flush=True)
"""


@ATTACK
def test_history_delete_killed_between_its_two_databases_leaves_no_cached_answer(settings: Settings,
                                                                                 cli_env: dict[str, str]) -> None:
    """The deleting process is held between the databases (another process holds edgemind.db's write lock, as a
    second EdgeMind window can) and killed with SIGKILL there: the answer must not be served, and the next open must
    finish the deletion."""
    store = ConversationStore(sessionmaker(open_database(settings.db_path)))
    conv = store.new_conversation("private", first_message="what is my diagnosis?")
    store.add_message(conv, "user", "what is my diagnosis?")
    store.add_message(conv, "assistant", "PRIVATE-DIAGNOSIS-ANSWER")
    cache = AnswerCache.from_settings(settings)
    cache.store("k" * 64, CachedAnswer("PRIVATE-DIAGNOSIS-ANSWER", TINY, 3, 5, time.time()), conv)
    assert AnswerCache.from_settings(settings).lookup("k" * 64) is not None

    child = subprocess.Popen([sys.executable, "-c", _DELETER, conv], env=cli_env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "ready"
        lock = sqlite3.connect(settings.db_path, isolation_level=None, timeout=10)
        lock.execute("BEGIN IMMEDIATE")  # the write lock: the child blocks on its first write to edgemind.db
        child.stdin.write("go\n")
        child.stdin.flush()
        time.sleep(2.0)  # well inside the child's 5 s busy timeout: it is waiting, between the databases
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        lock.execute("ROLLBACK")
        lock.close()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    assert AnswerCache.from_settings(settings).lookup("k" * 64) is None, "the deleted conversation's answer is served"
    reopened = Conversations.open(settings)
    assert [c.id for c in reopened.list()] == [], "the next open did not finish the deletion"
    assert AnswerCache.from_settings(settings).lookup("k" * 64) is None


# ---- a model file changed in place, size and mtime kept ------------------------------------------------------------
def _flip_in_place(path: Path, where: str) -> None:
    """Change bytes inside the file without changing its size, then put its access and modification times back."""
    before = path.stat()
    header = read_gguf_header(path)
    if where == "tensor data":
        offset = header.data_offset + (header.data_end - header.data_offset) // 3 + 12_345
    else:  # a metadata string: the chat template's text, so the header still parses
        data = path.read_bytes()[: header.data_offset]
        offset = data.index(b"tokenizer.chat_template") + 200
    with path.open("r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ 0x20 if chr(byte).isalpha() else byte ^ 0x01]))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def _registry(settings: Settings) -> ModelRegistry:
    return ModelRegistry(settings, sessionmaker(open_database(settings.db_path)))


@ATTACK
@pytest.mark.parametrize("where", ["tensor data", "metadata"])
@pytest.mark.parametrize("process", ["same process", "next process"])
def test_a_model_changed_in_place_with_its_mtime_restored_is_refused(tmp_path: Path, tiny_copy: Path, where: str,
                                                                     process: str) -> None:
    settings = load_settings(env={"EDGEMIND_HOME": str(tmp_path / "h"), "EDGEMIND_MODELS_DIR": str(tiny_copy.parent)})
    registry = _registry(settings)
    spec = registry.get(TINY)
    registry.prepare(spec)  # verified: hashed once, remembered
    _flip_in_place(tiny_copy, where)
    if process == "next process":
        registry = _registry(settings)
    with pytest.raises(ModelIntegrityError, match=f"model file changed since it was verified: {tiny_copy}"):
        registry.prepare(spec)


@ATTACK
def test_asking_a_model_changed_in_place_gives_one_line_not_garbage(tmp_path: Path, tiny_copy: Path,
                                                                    cli_env: dict[str, str]) -> None:
    env = {**cli_env, "EDGEMIND_HOME": str(tmp_path / "h"), "EDGEMIND_MODELS_DIR": str(tiny_copy.parent)}
    settings = load_settings(env=env)
    _registry(settings).prepare(_registry(settings).get(TINY))
    _flip_in_place(tiny_copy, "tensor data")
    proc = _cli(env, "ask", "Say hi", "--model", TINY, "--max-tokens", "4")
    assert proc.returncode == 1 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "model file changed since it was verified" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


# ---- invalid UTF-8 on the command line -----------------------------------------------------------------------------
@ATTACK
@pytest.mark.parametrize("argv", [[b"ask", b"\xff"], [b"ask", b"caf\xe9 ?"], [b"route", b"\xc3\x28 x"],
                                  [b"ask", b"hi", b"--model", b"\xfe\xfe"]],
                         ids=["ask-ff", "ask-latin1", "route-bad-sequence", "option-value"])
def test_invalid_utf8_on_the_command_line_is_one_line_error(cli_env: dict[str, str], argv: list[bytes]) -> None:
    proc = subprocess.run([*(a.encode() for a in EDGEMIND), *argv], env=cli_env, capture_output=True, timeout=120)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode in (1, 2) and proc.stdout == b""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "not valid UTF-8" in lines[0], err
    assert "Traceback" not in err and "internal error" not in err


# ---- the rails of the fixes themselves (not attacks) ---------------------------------------------------------------
def test_a_shared_folder_as_data_folder_is_never_made_private_only_our_files(tmp_path: Path) -> None:
    """EDGEMIND_HOME pointed at a sticky shared folder (as /tmp is): EdgeMind must not lock other users out of it."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    (shared / "someone-elses.txt").write_text("not ours")
    (shared / "someone-elses.txt").chmod(0o644)
    privacy = secure_data_folder(shared)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert stat.S_IMODE((shared / "someone-elses.txt").stat().st_mode) == 0o644
    assert privacy.notice is not None and "shared folder" in privacy.notice
    engine = open_database(shared / "edgemind.db")
    engine.dispose()
    assert stat.S_IMODE((shared / "edgemind.db").stat().st_mode) == 0o600


def test_tightening_an_open_folder_never_follows_a_link_out_of_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("the user's own file elsewhere")
    outside.chmod(0o644)
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o755)
    (home / "link").symlink_to(outside)
    secure_data_folder(home)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644


def test_a_private_file_is_never_written_through_a_planted_link(tmp_path: Path) -> None:
    home = tmp_path / "home"
    secure_data_folder(home)
    target = tmp_path / "elsewhere"
    target.write_text("keep me")
    target.chmod(0o600)
    (home / "api_key").symlink_to(target)
    with pytest.raises(ConfigError, match="cannot read or write the API key file"):
        load_or_create_api_key(home)
    assert target.read_text() == "keep me"


def test_the_fingerprint_sees_a_metadata_edit_without_the_change_time(tiny_copy: Path) -> None:
    """Where the inode change time says nothing (Windows), the header and tensor index are still covered."""
    before = fingerprint(tiny_copy, read_gguf_header(tiny_copy))
    _flip_in_place(tiny_copy, "metadata")
    assert fingerprint(tiny_copy, read_gguf_header(tiny_copy)) != before


def test_a_deletion_with_nothing_pending_and_an_unknown_id_leaves_no_mark(settings: Settings) -> None:
    conversations = Conversations.open(settings)
    with pytest.raises(StoreError, match="no conversation"):
        conversations.delete("0" * 32)
    assert AnswerCache.from_settings(settings).pending_deletions() == []
