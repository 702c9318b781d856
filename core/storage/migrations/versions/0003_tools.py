"""Tools: stored grants, and the append-only, hash-chained audit log with its keyed seal.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "grants",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tool", sa.String(200), nullable=False, index=True),
        sa.Column("manifest_sha", sa.String(64), nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tool", "manifest_sha", "scope", name="uq_grants_tool_sha_scope"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ts", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False, index=True),
        sa.Column("conversation_id", sa.String(32), nullable=True, index=True),
        sa.Column("tool", sa.String(200), nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("row_hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "audit_seal",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("head_id", sa.Integer, nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("mac", sa.String(64), nullable=False),
    )
    # Append-only through EdgeMind's own connection: editing rows needs someone to drop these first,
    # and then the hash chain and the keyed seal still show it.
    op.execute("CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
               "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END")
    op.execute("CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
               "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    op.drop_table("audit_seal")
    op.drop_table("audit_log")
    op.drop_table("grants")
