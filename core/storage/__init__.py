"""Storage: the SQLite database (SQLAlchemy, WAL, Alembic migrations), the conversation store and the audit log."""
