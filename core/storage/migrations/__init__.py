"""Alembic migrations of EdgeMind's database; run automatically by `open_database` to reach head."""
