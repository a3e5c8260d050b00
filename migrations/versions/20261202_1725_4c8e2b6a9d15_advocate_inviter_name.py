"""advocate inviter name

Revision ID: 4c8e2b6a9d15
Revises: 3f8a6c2e9b14
Create Date: 2026-12-02 17:00:00.000000+00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '4c8e2b6a9d15'
down_revision = '3f8a6c2e9b14'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('advocacy_advocates') as batch:
        batch.add_column(sa.Column('inviter_name', sa.String(length=40), nullable=True))


def downgrade():
    with op.batch_alter_table('advocacy_advocates') as batch:
        batch.drop_column('inviter_name')
