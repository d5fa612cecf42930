"""record_blobs: a partial index of unfinished uploads, for the sweep of abandoned ones

Revision ID: 0013_blobs_incomplete
Revises: 0012_writer_mandate
Create Date: 2026-12-04 19:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_blobs_incomplete"
down_revision: str | None = "0012_writer_mandate"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_record_blobs_incomplete",
        "record_blobs",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("NOT complete"),
        sqlite_where=sa.text("NOT complete"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_record_blobs_incomplete",
        table_name="record_blobs",
        postgresql_where=sa.text("NOT complete"),
        sqlite_where=sa.text("NOT complete"),
    )
