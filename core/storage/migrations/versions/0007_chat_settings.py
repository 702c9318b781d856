"""Per-chat settings (model, temperature, system prompt, tools on or off) on each conversation, and saved presets.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMNs (NULL or a constant default): SQLite does them in place, existing conversations keep their
    # rows and FTS triggers, and read as "the default settings"
    op.add_column("conversations", sa.Column("chat_model", sa.String(200), nullable=True))
    op.add_column("conversations", sa.Column("chat_temperature", sa.Float, nullable=True))
    op.add_column("conversations", sa.Column("chat_system_prompt", sa.Text, nullable=True))
    op.add_column("conversations", sa.Column("chat_tools", sa.Boolean, nullable=False, server_default=sa.true()))
    op.create_table(
        "chat_presets",
        sa.Column("name", sa.String(60), primary_key=True),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("temperature", sa.Float, nullable=True),
        sa.Column("system_prompt", sa.Text, nullable=True),
        sa.Column("tools", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("chat_presets")
    with op.batch_alter_table("conversations") as batch:
        for column in ("chat_tools", "chat_system_prompt", "chat_temperature", "chat_model"):
            batch.drop_column(column)
