"""The audit log: append-only, hash-chained, sealed with a key the database does not hold."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import sessionmaker
from sqlalchemy import text

from edgemind.core.storage.audit import GENESIS, AuditLog, load_key, row_hash
from edgemind.core.storage.db import open_database
from edgemind.core.settings import Settings


@pytest.fixture
def audit(settings: Settings) -> AuditLog:
    sessions = sessionmaker(open_database(settings.db_path), expire_on_commit=False)
    log = AuditLog(sessions, load_key(settings.home, "file"))
    for i in range(6):
        log.record("tool_call", {"n": i, "arguments_sha": "x" * 64}, tool=f"t{i}", conversation_id="c1")
    return log


def _raw(settings: Settings) -> sqlite3.Connection:
    """What an attacker with the file has: plain sqlite3, and the will to drop our triggers first."""
    conn = sqlite3.connect(settings.db_path, isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    return conn


def test_an_untouched_log_verifies(audit: AuditLog) -> None:
    result = audit.verify()
    assert result.ok and result.rows == 6


def test_rows_link_to_the_row_before(audit: AuditLog) -> None:
    rows = audit.entries()
    assert rows[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.row_hash for a, b in zip(rows, rows[1:]))


def test_edits_and_deletes_are_refused_through_sql(audit: AuditLog) -> None:
    with pytest.raises((IntegrityError, OperationalError), match="append-only"):
        with audit._sessions.begin() as s:
            s.execute(text("UPDATE audit_log SET kind='grant' WHERE id=2"))
    with pytest.raises((IntegrityError, OperationalError), match="append-only"):
        with audit._sessions.begin() as s:
            s.execute(text("DELETE FROM audit_log WHERE id=2"))
    assert audit.verify().ok


def test_an_edited_row_is_named(audit: AuditLog, settings: Settings) -> None:
    _raw(settings).execute("UPDATE audit_log SET detail='{\"n\":99}' WHERE id=3")
    result = audit.verify()
    assert not result.ok and result.first_bad_id == 3 and "edited" in result.problem


def test_a_deleted_middle_row_is_named(audit: AuditLog, settings: Settings) -> None:
    _raw(settings).execute("DELETE FROM audit_log WHERE id=4")
    result = audit.verify()
    assert not result.ok and result.first_bad_id == 4 and "missing" in result.problem


def test_deleting_the_newest_rows_is_caught_by_the_seal(audit: AuditLog, settings: Settings) -> None:
    _raw(settings).execute("DELETE FROM audit_log WHERE id >= 5")
    result = audit.verify()
    assert not result.ok and result.first_bad_id == 5


def test_deleting_everything_is_caught(audit: AuditLog, settings: Settings) -> None:
    _raw(settings).execute("DELETE FROM audit_log")
    assert not audit.verify().ok


def test_reordered_rows_are_named(audit: AuditLog, settings: Settings) -> None:
    conn = _raw(settings)
    conn.execute("UPDATE audit_log SET id = 100 WHERE id = 2")
    conn.execute("UPDATE audit_log SET id = 2 WHERE id = 3")
    conn.execute("UPDATE audit_log SET id = 3 WHERE id = 100")
    result = audit.verify()
    assert not result.ok and result.first_bad_id == 2


def test_an_inserted_row_is_named(audit: AuditLog, settings: Settings) -> None:
    conn = _raw(settings)
    for rid in range(6, 3, -1):  # make room, as a forger would
        conn.execute("UPDATE audit_log SET id = id + 1 WHERE id = ?", (rid,))
    prev = conn.execute("SELECT row_hash FROM audit_log WHERE id = 3").fetchone()[0]
    forged = row_hash(4, "2026-01-01T00:00:00+00:00", "grant", None, "files_read", "{}", "f" * 64)
    conn.execute("INSERT INTO audit_log VALUES (4, '2026-01-01T00:00:00+00:00', 'grant', NULL, 'files_read', '{}', ?, ?)",
                 ("f" * 64, forged))
    result = audit.verify()
    assert not result.ok and result.first_bad_id == 4 and prev != "f" * 64


def test_a_chain_recomputed_without_the_key_fails_the_seal(audit: AuditLog, settings: Settings) -> None:
    """The forger rewrites a row and re-hashes every row after it; only the key could re-seal the head."""
    conn = _raw(settings)
    rows = conn.execute("SELECT id, ts, kind, conversation_id, tool, detail FROM audit_log ORDER BY id").fetchall()
    prev = GENESIS
    for rid, ts, kind, conv, tool, detail in rows:
        if rid == 2:
            detail = json.dumps({"n": 1, "forged": True})
        h = row_hash(rid, ts, kind, conv, tool, detail, prev)
        conn.execute("UPDATE audit_log SET detail=?, prev_hash=?, row_hash=? WHERE id=?", (detail, prev, "tmp" + str(rid), rid))
        conn.execute("UPDATE audit_log SET row_hash=? WHERE id=?", (h, rid))
        prev = h
    guessed_key = b"\x00" * 32
    mac = hmac.new(guessed_key, f"6:{prev}".encode(), hashlib.sha256).hexdigest()
    conn.execute("UPDATE audit_seal SET head_id=6, head_hash=?, mac=?", (prev, mac))
    result = audit.verify()
    assert not result.ok and "seal does not match the key" in result.problem


def test_concurrent_writers_keep_one_chain(audit: AuditLog) -> None:
    def write(k: int) -> None:
        for i in range(15):
            audit.record("route", {"thread": k, "i": i})

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = audit.verify()
    assert result.ok and result.rows == 6 + 60


def test_the_key_file_is_private_and_stable(settings: Settings) -> None:
    key = load_key(settings.home, "file")
    assert load_key(settings.home, "file") == key
    mode = (settings.home / "audit.key").stat().st_mode & 0o777
    assert sys.platform == "win32" or mode == 0o600


def _edgemind(args: list[str], cli_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgemind.core.cli", *args], capture_output=True, text=True,
                          env=cli_env, timeout=120)


def test_cli_verify_exits_1_naming_the_first_bad_row(audit: AuditLog, settings: Settings,
                                                     cli_env: dict[str, str]) -> None:
    ok = _edgemind(["audit", "verify", "--json"], cli_env)
    assert ok.returncode == 0 and json.loads(ok.stdout)["ok"] is True
    _raw(settings).execute("UPDATE audit_log SET tool='other' WHERE id=5")
    bad = _edgemind(["audit", "verify"], cli_env)
    assert bad.returncode == 1
    assert bad.stderr.strip().count("\n") == 0 and "row 5" in bad.stderr and "Traceback" not in bad.stderr


def test_cli_show_and_export(audit: AuditLog, cli_env: dict[str, str], tmp_path: Path) -> None:
    shown = json.loads(_edgemind(["audit", "show", "--json", "--limit", "2"], cli_env).stdout)["entries"]
    assert [e["id"] for e in shown] == [5, 6]
    out = tmp_path / "audit.jsonl"
    assert _edgemind(["audit", "export", "--out", str(out)], cli_env).returncode == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [x["id"] for x in lines] == [1, 2, 3, 4, 5, 6] and lines[0]["prev_hash"] == GENESIS


def test_every_answer_logs_its_route_also_from_the_cache(engine) -> None:  # type: ignore[no-untyped-def]
    from edgemind.core.engine.facade import AskOptions

    options = AskOptions(max_tokens=8, temperature=0.0, store=False)
    engine.ask("Name a colour.", options)
    engine.ask("Name a colour.", options)
    routes = [e.detail for e in engine.audit.entries(kind="route")]
    assert [r["cache"] for r in routes] == ["miss", "l1"]
    assert routes[0]["prompt_sha"] == routes[1]["prompt_sha"] and "Name a colour" not in json.dumps(routes)
    assert engine.audit.verify().ok
