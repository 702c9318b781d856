"""A conversation the user keeps out of distillation: its prompts and answers never become training data.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN with a constant default: SQLite does it in place (the FTS triggers stay as they are)
    op.add_column("conversations", sa.Column("distill_excluded", sa.Boolean, nullable=False,
                                             server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("distill_excluded")
