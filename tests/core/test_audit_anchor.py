"""The audit log's anchor outside the database: rollbacks, emptied tables, a lost key and resurrected grants.

Each attack is what a local attacker with the data folder (but not the OS keyring) would try: restore an older copy
of `edgemind.db`, empty the audit tables, delete the key so a new one is made, put a revoked grant back.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from edgemind.core.engine.services import AuditTrail, Grants, Tools
from edgemind.core.settings import Settings
from edgemind.core.storage.anchor import ANCHOR_FILE, AnchorHead
from edgemind.core.storage.audit import AuditError, AuditLog, load_key
from edgemind.core.storage.db import open_database
from edgemind.core.tools.session import open_audit
from tests.keyring_standin import stand_in_keyring

attack = pytest.mark.attack("audit-log")


def _sessions(settings: Settings) -> sessionmaker[Session]:
    return sessionmaker(open_database(settings.db_path), expire_on_commit=False)


def _append(settings: Settings, n: int) -> AuditLog:
    log = open_audit(settings, _sessions(settings))
    for i in range(n):
        log.record("route", {"n": i})
    return log


def _copy_db(settings: Settings, to: Path) -> Path:
    """The attacker's copy of the database as it is now (what a backup or a `cp` while EdgeMind is idle gives)."""
    src = sqlite3.connect(settings.db_path)
    dst = sqlite3.connect(to)
    src.backup(dst)
    dst.close()
    src.close()
    return to


def _restore_db(settings: Settings, copy: Path) -> None:
    """Put the old copy back in place of edgemind.db, as the attacker would (the WAL files go with it)."""
    for suffix in ("-wal", "-shm"):
        Path(str(settings.db_path) + suffix).unlink(missing_ok=True)
    swap = settings.db_path.with_name("swap.db")
    shutil.copyfile(copy, swap)
    os.replace(swap, settings.db_path)


def _raw(settings: Settings) -> sqlite3.Connection:
    conn = sqlite3.connect(settings.db_path, isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    return conn


def _verify(settings: Settings):  # type: ignore[no-untyped-def]
    return AuditTrail.open(settings).verify()


def _edgemind(args: list[str], cli_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgemind.core.cli", *args], capture_output=True, text=True,
                          env=cli_env, timeout=120)


def _one_line(stderr: str) -> bool:
    return stderr.strip().count("\n") == 0 and "Traceback" not in stderr and "internal error" not in stderr


# ---- the key ---------------------------------------------------------------------------------------------------

@attack
def test_a_deleted_key_with_rows_is_an_error_never_a_new_key(settings: Settings) -> None:
    _append(settings, 6)
    (settings.home / "audit.key").unlink()
    with pytest.raises(AuditError, match="audit key missing: the log has 6 rows sealed with a key that is gone"):
        open_audit(settings, _sessions(settings))
    assert not (settings.home / "audit.key").exists()  # no new key was made to re-seal a forged chain with


@attack
def test_cli_verify_after_the_key_was_deleted_says_so_in_one_line(settings: Settings,
                                                                   cli_env: dict[str, str]) -> None:
    _append(settings, 3)
    (settings.home / "audit.key").unlink()
    out = _edgemind(["audit", "verify"], cli_env)
    assert out.returncode == 1 and _one_line(out.stderr)
    assert "audit key missing: the log has 3 rows" in out.stderr
    assert not (settings.home / "audit.key").exists()


# ---- rollbacks -------------------------------------------------------------------------------------------------

@attack
def test_an_older_copy_of_the_database_is_a_rollback_naming_the_missing_rows(settings: Settings,
                                                                              tmp_path: Path) -> None:
    _append(settings, 17)
    copy = _copy_db(settings, tmp_path / "old.db")
    _append(settings, 8)
    _restore_db(settings, copy)
    result = _verify(settings)
    assert not result.ok and result.first_bad_id == 18
    assert result.problem == "rollback: the log ends at row 17 but the anchor says 25; rows 18-25 missing"
    with pytest.raises(AuditError, match="rollback: the log ends at row 17"):  # every open checks it too
        open_audit(settings, _sessions(settings))


@attack
def test_an_older_copy_one_append_behind_is_a_rollback_not_a_crash(settings: Settings, tmp_path: Path) -> None:
    _append(settings, 6)
    copy = _copy_db(settings, tmp_path / "old.db")
    _append(settings, 1)
    _restore_db(settings, copy)
    result = _verify(settings)
    assert not result.ok and result.problem == "rollback: the log ends at row 6 but the anchor says 7; row 7 missing"


@attack
def test_emptying_both_audit_tables_is_a_rollback_not_an_empty_log(settings: Settings) -> None:
    _append(settings, 6)
    conn = _raw(settings)
    conn.execute("DELETE FROM audit_log")
    conn.execute("DELETE FROM audit_seal")
    result = _verify(settings)
    assert not result.ok and result.rows == 0
    assert result.problem == "rollback: the log is empty but the anchor says 6; rows 1-6 missing"


@attack
def test_a_deleted_anchor_with_an_older_copy_is_caught(settings: Settings, tmp_path: Path) -> None:
    _append(settings, 5)
    copy = _copy_db(settings, tmp_path / "old.db")
    _append(settings, 5)
    (settings.home / ANCHOR_FILE).unlink(missing_ok=True)
    _restore_db(settings, copy)
    result = _verify(settings)
    assert not result.ok and "anchor is missing" in result.problem


@attack
def test_an_anchor_lowered_to_match_an_older_copy_is_caught(settings: Settings, tmp_path: Path) -> None:
    """Without the key the attacker can edit the anchor's numbers but not its MAC."""
    _append(settings, 4)
    copy = _copy_db(settings, tmp_path / "old.db")
    old_head = AuditTrail.open(settings).entries()[-1]
    _append(settings, 4)
    path = settings.home / ANCHOR_FILE
    if path.exists():  # (code without an anchor has nothing to lower: the rollback alone goes unseen there)
        anchor = json.loads(path.read_text())
        anchor["seq"], anchor["head"] = old_head.id, old_head.row_hash
        path.write_text(json.dumps(anchor))
    _restore_db(settings, copy)
    result = _verify(settings)
    assert not result.ok and "anchor" in result.problem and "key" in result.problem


# ---- grants ----------------------------------------------------------------------------------------------------

@attack
def test_a_grant_revoked_after_the_copy_does_not_come_back(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("s3cret")
    grants = Grants.open(settings)
    grants.grant("files_read", [f"fs.read:{tmp_path}"])
    copy = _copy_db(settings, tmp_path / "old.db")
    assert grants.revoke(tool="files_read") == 1
    _restore_db(settings, copy)
    with pytest.raises(AuditError, match="rollback"):
        Tools.open(settings).run("files_read", {"path": str(tmp_path / "secret.txt")})


@attack
def test_a_grant_row_the_anchor_does_not_cover_is_not_honoured(settings: Settings, tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """The revoked grant put back into the grants table by hand (the audit chain left as it is)."""
    (tmp_path / "secret.txt").write_text("s3cret")
    grants = Grants.open(settings)
    grants.grant("files_read", [f"fs.read:{tmp_path}"])
    row = _raw(settings).execute("SELECT tool, manifest_sha, scope, created_at FROM grants").fetchone()
    grants.revoke(tool="files_read")
    _raw(settings).execute("INSERT INTO grants (tool, manifest_sha, scope, created_at) VALUES (?, ?, ?, ?)", row)
    with caplog.at_level(logging.WARNING, logger="edgemind.permissions"):
        outcome = Tools.open(settings).run("files_read", {"path": str(tmp_path / "secret.txt")})
    assert not outcome.ok and outcome.decision.startswith("denied")
    warned = [r.getMessage() for r in caplog.records if "not covered by the audit anchor" in r.getMessage()]
    assert warned and "files_read" in warned[0] and str(tmp_path) in warned[0]
    assert [g.honoured for g in Grants.open(settings).list()] == [False]  # listed as such, too


def test_grants_made_and_revoked_through_edgemind_are_honoured_and_dropped(settings: Settings,
                                                                           tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    grants = Grants.open(settings)
    grants.grant("files_read", [f"fs.read:{tmp_path}"])
    assert Tools.open(settings).run("files_read", {"path": str(tmp_path / "a.txt")}).decision == "allowed:always"
    grants.revoke(tool="files_read")
    assert not Tools.open(settings).run("files_read", {"path": str(tmp_path / "a.txt")}).ok
    assert _verify(settings).ok


# ---- the crash window ------------------------------------------------------------------------------------------

def test_an_append_lost_in_a_crash_is_not_a_rollback(settings: Settings) -> None:
    """The rule: an append writes the anchor's `pending` head before its DB commit and the committed head after.
    A crash between the two leaves the anchor one ahead of the database, naming the very row that is missing: that
    row never existed, so nothing was rolled back; the next append takes its number."""
    log = _append(settings, 6)
    state = log.anchor.load()
    assert state is not None and state.head.seq == 6 and state.pending is None
    with log.anchor.locked():
        log.anchor.save(replace(state, pending=AnchorHead(7, "ab" * 32)))  # the process died before its commit
    result = _verify(settings)
    assert result.ok and result.rows == 6 and "row 7" in result.note
    log = _append(settings, 1)
    assert _verify(settings).ok and _verify(settings).rows == 7 and log.anchor.load().pending is None  # type: ignore[union-attr]


def test_an_append_committed_before_its_anchor_update_is_not_a_rollback(settings: Settings) -> None:
    """The other half of the window: the DB commit landed, the anchor still says `pending`."""
    log = _append(settings, 3)
    before = log.anchor.load()
    assert before is not None
    log.record("route", {"n": 3})
    head = log.entries()[-1]
    with log.anchor.locked():
        log.anchor.save(replace(before, pending=AnchorHead(head.id, head.row_hash)))
    assert _verify(settings).ok
    open_audit(settings, _sessions(settings))  # the open moves the anchor on
    state = log.anchor.load()
    assert state is not None and state.head.seq == 4 and state.pending is None


def test_the_anchor_file_is_private(settings: Settings) -> None:
    _append(settings, 1)
    mode = (settings.home / ANCHOR_FILE).stat().st_mode & 0o777
    assert sys.platform == "win32" or mode == 0o600


def test_a_database_from_before_anchors_is_adopted_once(settings: Settings) -> None:
    sessions = _sessions(settings)
    legacy = AuditLog(sessions, load_key(settings.home, "file"))  # how EdgeMind wrote the log before anchors
    for i in range(3):
        legacy.record("route", {"n": i})
    assert AuditTrail.open(settings).verify().note.startswith("not anchored yet")
    log = open_audit(settings, sessions)
    assert (settings.home / ANCHOR_FILE).exists() and log.verify().ok and not log.verify().note
    (settings.home / ANCHOR_FILE).unlink()  # from now on a missing anchor is an error, not an old log
    with pytest.raises(AuditError, match="the anchor is missing"):
        open_audit(settings, sessions)


def test_accept_re_anchors_a_restored_copy_without_its_grants(settings: Settings, tmp_path: Path) -> None:
    grants = Grants.open(settings)
    grants.grant("files_read", [f"fs.read:{tmp_path}"])
    copy = _copy_db(settings, tmp_path / "old.db")
    grants.revoke(tool="files_read")
    _restore_db(settings, copy)
    assert not _verify(settings).ok
    result = AuditTrail.open(settings).accept()
    assert result.ok
    assert AuditTrail.open(settings).entries()[-1].kind == "anchor"
    (tmp_path / "a.txt").write_text("a")
    assert not Tools.open(settings).run("files_read", {"path": str(tmp_path / "a.txt")}).ok  # the revoked grant


# ---- a missing table -------------------------------------------------------------------------------------------

@attack
@pytest.mark.parametrize("args", [["audit", "verify"], ["ask", "What is 2+3?", "--grant", "system.info"]],
                         ids=["audit-verify", "ask-with-tools"])
def test_a_dropped_audit_table_gives_one_line(settings: Settings, cli_env: dict[str, str],
                                              args: list[str]) -> None:
    _append(settings, 2)
    _raw(settings).execute("DROP TABLE audit_log")
    out = _edgemind(args, cli_env)
    assert out.returncode != 0 and _one_line(out.stderr), out.stderr
    assert "audit log table is missing" in out.stderr and "SQL" not in out.stderr


# ---- where an OS keyring works: the key and the anchor are out of the data folder's reach ----------------------

@pytest.fixture
def os_keyring(settings: Settings) -> Iterator[Settings]:
    with stand_in_keyring():
        yield replace(settings, audit_key_store="auto")


@attack
def test_with_a_keyring_a_whole_data_folder_restored_from_a_copy_is_a_rollback(os_keyring: Settings,
                                                                               tmp_path: Path) -> None:
    settings = os_keyring
    _append(settings, 5)
    assert not (settings.home / "audit.key").exists()  # the key is in the keyring, not in the folder
    folder_copy = shutil.copytree(settings.home, tmp_path / "folder-copy")
    _append(settings, 3)
    shutil.rmtree(settings.home)
    shutil.copytree(folder_copy, settings.home)
    result = _verify(settings)
    assert not result.ok and result.problem.startswith("rollback: the audit anchor")
    assert "not the one the OS keyring vouches for" in result.problem


@attack
def test_with_a_keyring_an_older_database_alone_is_named_precisely(os_keyring: Settings, tmp_path: Path) -> None:
    settings = os_keyring
    _append(settings, 5)
    copy = _copy_db(settings, tmp_path / "old.db")
    _append(settings, 3)
    _restore_db(settings, copy)
    result = _verify(settings)
    assert not result.ok and result.problem == "rollback: the log ends at row 5 but the anchor says 8; rows 6-8 missing"


def test_with_a_keyring_a_crash_between_keyring_and_rename_is_finished(os_keyring: Settings) -> None:
    settings = os_keyring
    log = _append(settings, 2)
    path = settings.home / ANCHOR_FILE
    older = path.read_text()
    log.record("route", {})
    newer = path.read_text()
    path.write_text(older)  # as if the rename of audit.anchor.next had not happened yet
    path.with_name(path.name + ".next").write_text(newer)
    assert _verify(settings).ok and path.read_text() == newer



def test_two_sessions_appending_at_once_keep_one_chain_and_one_anchor(settings: Settings) -> None:
    """Two logs over one folder (as the desktop app and a CLI command are): the lock file orders their appends."""
    first, second = _append(settings, 1), open_audit(settings, _sessions(settings))

    def write(log: AuditLog, k: int) -> None:
        for i in range(10):
            log.record("route", {"session": k, "i": i})

    threads = [threading.Thread(target=write, args=(log, k)) for k, log in enumerate((first, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = _verify(settings)
    state = first.anchor.load()  # type: ignore[union-attr]
    assert result.ok and result.rows == 21 and state is not None and state.head.seq == 21 and state.pending is None


_APPENDER = """
import sys
from sqlalchemy.orm import sessionmaker
from edgemind.core.settings import load_settings
from edgemind.core.storage.db import open_database
from edgemind.core.tools.session import open_audit
settings = load_settings(env={"EDGEMIND_HOME": sys.argv[1], "EDGEMIND_AUDIT_KEY_STORE": "file"})
log = open_audit(settings, sessionmaker(open_database(settings.db_path), expire_on_commit=False))
print("ready", flush=True)
while True:
    log.record("route", {"pad": "x" * 200})
"""


def test_appends_killed_at_random_points_never_look_like_a_rollback(settings: Settings) -> None:
    """A real crash, not a simulated one: SIGKILL an appending process wherever it is, three times; the log must
    verify and open every time (an append cut off is a note, never a rollback)."""
    _append(settings, 1)
    for delay in (0.3, 0.45, 0.6):
        child = subprocess.Popen([sys.executable, "-c", _APPENDER, str(settings.home)], stdout=subprocess.PIPE,
                                 text=True)
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        time.sleep(delay)
        child.kill()
        child.wait()
        result = _verify(settings)
        assert result.ok, result.problem
        open_audit(settings, _sessions(settings)).record("route", {"after": delay})
    assert _verify(settings).ok
