"""Tool calls kept with the answer they served, so a reopened conversation shows what ran (not only the audit log).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # JSON list of the answer's tool calls (tool, arguments, decision, ok, result summary and digest); NULL when none
    # a plain ADD COLUMN: SQLite does it in place, so the FTS triggers and rowids on `messages` stay as they are
    op.add_column("messages", sa.Column("tool_calls", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column("messages", "tool_calls")
