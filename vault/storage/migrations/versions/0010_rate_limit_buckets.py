"""rate limit buckets shared by every server process

Revision ID: 0010_rate_buckets
Revises: 0009_ping
Create Date: 2026-12-03 18:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010_rate_buckets'
down_revision: str | None = '0009_ping'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No index on `tat`: every check updates it, and an index would make each of those
    # updates touch it too; the sweep scans a table that holds only the last minutes' rows.
    op.create_table('rate_limit_buckets',
    sa.Column('bucket', sa.LargeBinary(length=32), nullable=False),
    sa.Column('tat', sa.BigInteger(), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('bucket', name=op.f('pk_rate_limit_buckets'))
    )
    if op.get_bind().dialect.name == 'postgresql':
        # No WAL for the buckets: a check's commit does not wait for a WAL flush (it was one
        # fsync per check, milliseconds), at the price that a crash (not a clean restart)
        # or a failover empties the table, which gives every client one fresh burst.
        op.execute('ALTER TABLE rate_limit_buckets SET UNLOGGED')


def downgrade() -> None:
    op.drop_table('rate_limit_buckets')
