"""stripe event reasons

Revision ID: 9d4f2a7c1b63
Revises: 7b3e9c1d4f20
Create Date: 2026-12-02 15:00:00.000000+00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '9d4f2a7c1b63'
down_revision = '7b3e9c1d4f20'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('advocacy_stripe_events') as batch:
        batch.add_column(sa.Column('reason', sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table('advocacy_stripe_events') as batch:
        batch.drop_column('reason')
