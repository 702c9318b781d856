"""The SQLite database (through SQLAlchemy 2.0) that is EdgeMind's source of truth.

Opens in WAL mode so readers never block the writer. A damaged file is reported and left untouched: we never
delete or overwrite a user's data to get going again.
"""

from __future__ import annotations

import re
import sqlite3
from functools import cache
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Engine, Result, create_engine, event, inspect, text
from sqlalchemy.exc import DatabaseError, OperationalError

from ..data_folder import prepare_database_file, secure_data_folder
from ..errors import StoreError


def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL is durable across app crashes, not power loss
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    # deleted rows (a conversation, a key moved out) are zeroed in the file, not left readable in free pages
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE changed. `Session.execute` is typed to return a Result, but for these statements it
    is a CursorResult, the one that counts rows."""
    return cast(CursorResult[Any], result).rowcount or 0


VERSIONS = Path(__file__).resolve().parent / "migrations" / "versions"
_REVISION_LINE = re.compile(r'^(down_revision|revision)\s*=\s*(?:"([^"]+)"|None)', re.MULTILINE)


@cache
def head_revision() -> str | None:
    """The newest migration, read from the revision scripts' own `revision =` lines (None if they cannot be read):
    a database already there opens without importing Alembic, which costs ~0.5 s at every start."""
    revisions: set[str] = set()
    parents: set[str] = set()
    try:
        for script in VERSIONS.glob("*.py"):
            for kind, value in _REVISION_LINE.findall(script.read_text(encoding="utf-8")):
                (revisions if kind == "revision" else parents).add(value)
    except OSError:
        return None
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def migrate(conn: Connection) -> None:
    """Bring the schema to the newest revision with Alembic (a no-op when it is already there)."""
    tables = set(inspect(conn).get_table_names())
    if "alembic_version" in tables:
        current = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        if current and current == [head_revision()]:
            return
    from alembic import command  # imported only when there is something to upgrade
    from alembic.config import Config

    # The upgrade runs the revision scripts alone; the full metadata (tables.py) is only for comparing schemas.
    config = Config()
    config.set_main_option("script_location", "edgemind.core.storage:migrations")
    config.attributes["connection"] = conn
    if "conversations" in tables and "alembic_version" not in tables:
        command.stamp(config, "0001")  # made by create_all before migrations existed: the 0001 schema
    command.upgrade(config, "head")


def open_database(path: Path) -> Engine:
    """Open (creating if needed) the database and its tables; raise StoreError with one line if it is unusable."""
    secure_data_folder(path.parent)  # 0700, or tightened with a notice
    try:
        prepare_database_file(path)  # 0600 before SQLite creates it, so its -wal and -shm are 0600 too
    except OSError as exc:
        raise StoreError(f"cannot create the database {path}: {exc.strerror or exc}") from None
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _on_connect)
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT count(*) FROM sqlite_master")).scalar_one()
            migrate(conn)
    except (DatabaseError, OperationalError) as exc:
        engine.dispose()
        reason = str(exc.orig) if getattr(exc, "orig", None) else str(exc)
        raise StoreError(
            f"the database {path} cannot be used ({reason}); it was left untouched: move it aside to start afresh"
        ) from None
    return engine
