"""Alembic environment: always given an open connection by `edgemind.core.storage.db`, never a URL from an ini file."""

from alembic import context

from edgemind.core.storage.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
