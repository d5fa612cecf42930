"""event outbox: a SET's claims, signed when it is delivered (the set-based sweeper)

Revision ID: 0011_set_claims
Revises: 0010_rate_buckets
Create Date: 2026-12-03 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011_set_claims'
down_revision: str | None = '0010_rate_buckets'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('event_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('set_claims', sa.Text(), nullable=True))


def downgrade() -> None:
    # A SET not signed yet has only its claims: drop those events rather than keep rows with
    # nothing to send.
    op.execute("DELETE FROM event_outbox WHERE set_jwt IS NULL AND set_claims IS NOT NULL")
    with op.batch_alter_table('event_outbox', schema=None) as batch_op:
        batch_op.drop_column('set_claims')
