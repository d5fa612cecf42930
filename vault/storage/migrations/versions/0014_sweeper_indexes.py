"""sweeper indexes (partial): approved grants by valid_until, requests by expiry, finished events

Revision ID: 0014_sweeper_indexes
Revises: 0013_blobs_incomplete
Create Date: 2026-12-04 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0014_sweeper_indexes'
down_revision: str | None = '0013_blobs_incomplete'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPROVED = "status = 'approved'"
REQUESTED = "status = 'requested'"
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
    # Unanswered requests past their expiry, which used the status prefix of the index just
    # dropped: without this, each round reads the whole table to find them.
    op.create_index(
        'ix_grants_requested_expires_at',
        'grants',
        ['request_expires_at'],
        unique=False,
        postgresql_where=sa.text(REQUESTED),
        sqlite_where=sa.text(REQUESTED),
    )
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
    op.drop_index('ix_grants_requested_expires_at', table_name='grants')
    op.create_index('ix_grants_valid_until', 'grants', ['status', 'valid_until'], unique=False)
    op.drop_index('ix_grants_approved_valid_until', table_name='grants')
