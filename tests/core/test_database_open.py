"""Opening the database: a file already at the newest revision opens without Alembic (its import costs ~0.5 s at
every start); any other is upgraded by Alembic as before (tests/core/test_chat_settings.py upgrades from 0006)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from edgemind.core.storage.db import head_revision, open_database

OPEN_AND_REPORT = """
import sys
from pathlib import Path
from edgemind.core.storage.db import open_database
open_database(Path(sys.argv[1])).dispose()
print("alembic" in sys.modules)
"""


def test_the_head_read_from_the_scripts_is_alembics_own_head() -> None:
    config = Config()
    config.set_main_option("script_location", "edgemind.core.storage:migrations")
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()


def opens_with_alembic(path: Path) -> bool:
    proc = subprocess.run([sys.executable, "-c", OPEN_AND_REPORT, str(path)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip() == "True"


def test_a_new_database_is_made_by_the_migrations_and_then_opens_without_them(tmp_path: Path) -> None:
    path = tmp_path / "home" / "edgemind.db"
    assert opens_with_alembic(path)  # created: every migration ran
    assert not opens_with_alembic(path)  # at the head: nothing to do
    engine = open_database(path)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all() == [head_revision()]
    engine.dispose()


def test_a_database_one_revision_behind_goes_through_alembic_again(tmp_path: Path) -> None:
    path = tmp_path / "home" / "edgemind.db"
    engine = open_database(path)
    with engine.begin() as conn:  # back to the 0006 schema, as an older EdgeMind left it
        config = Config()
        config.set_main_option("script_location", "edgemind.core.storage:migrations")
        config.attributes["connection"] = conn
        command.downgrade(config, "0006")
    engine.dispose()
    assert opens_with_alembic(path)
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT version_num FROM alembic_version").fetchone() == (head_revision(),)
        assert "chat_model" in {row[1] for row in raw.execute("PRAGMA table_info(conversations)")}
