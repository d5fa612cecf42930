"""records: the mandate under which a representative wrote a record or a version

Revision ID: 0012_writer_mandate
Revises: 0011_set_claims
Create Date: 2026-12-04 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_writer_mandate"
down_revision: str | None = "0011_set_claims"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Null for everything written before: the resident's own or a service's (written_by).
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("writer_mandate_id", sa.Uuid(), nullable=True))
    with op.batch_alter_table("record_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("writer_mandate_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    # What a representative wrote reads as the resident's own again, as before 0012.
    op.execute("UPDATE records SET written_by = 'resident' WHERE written_by = 'representative'")
    op.execute(
        "UPDATE record_versions SET written_by = 'resident' WHERE written_by = 'representative'"
    )
    with op.batch_alter_table("record_versions", schema=None) as batch_op:
        batch_op.drop_column("writer_mandate_id")
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_column("writer_mandate_id")
