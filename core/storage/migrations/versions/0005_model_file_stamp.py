"""What a verified model file looked like beyond size and mtime (both of which anyone can put back): its inode change
time, its inode, and a fingerprint of its header, tensor index and sampled data. A row without them is re-hashed once.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_verifications") as batch:
        batch.add_column(sa.Column("ctime_ns", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("inode", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("fingerprint", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_verifications") as batch:
        batch.drop_column("fingerprint")
        batch.drop_column("inode")
        batch.drop_column("ctime_ns")
