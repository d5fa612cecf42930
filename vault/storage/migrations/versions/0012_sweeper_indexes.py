"""sweeper indexes: approved grants by valid_until, finished outbox events (both partial)

Revision ID: 0012_sweeper_indexes
Revises: 0011_set_claims
Create Date: 2026-12-04 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012_sweeper_indexes'
down_revision: str | None = '0011_set_claims'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPROVED = "status = 'approved'"
FINISHED = 'delivered_at IS NOT NULL OR next_attempt_at IS NULL'


def upgrade() -> None:
    # Only approved grants: a grant that ends leaves the index (one index entry fewer per end).
    op.create_index(
        'ix_grants_approved_valid_until',
        'grants',
        ['valid_until'],
        unique=False,
        postgresql_where=sa.text(APPROVED),
        sqlite_where=sa.text(APPROVED),
    )
    op.drop_index('ix_grants_valid_until', table_name='grants')
    # Pending events (most of the table during a big sweep) are not in it, so the purge reads
    # only what it may delete, whatever the planner's statistics.
    op.create_index(
        'ix_event_outbox_finished',
        'event_outbox',
        [sa.text('coalesce(delivered_at, created_at)')],
        unique=False,
        postgresql_where=sa.text(FINISHED),
        sqlite_where=sa.text(FINISHED),
    )


def downgrade() -> None:
    op.drop_index('ix_event_outbox_finished', table_name='event_outbox')
    op.create_index('ix_grants_valid_until', 'grants', ['status', 'valid_until'], unique=False)
    op.drop_index('ix_grants_approved_valid_until', table_name='grants')
