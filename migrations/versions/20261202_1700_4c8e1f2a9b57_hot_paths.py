"""hot paths: id blocks of clicks batched off the request path

Revision ID: 4c8e1f2a9b57
Revises: 9d4f2a7c1b63
Create Date: 2026-12-02 17:00:00.000000+00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '4c8e1f2a9b57'
down_revision = '9d4f2a7c1b63'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'advocacy_id_blocks',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('next_id', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_advocacy_id_blocks')),
    )


def downgrade():
    op.drop_table('advocacy_id_blocks')
