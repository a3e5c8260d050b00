"""privacy: the erasure list

Revision ID: 3e8a5c2d9f17
Revises: 4c8e1f2a9b57
Create Date: 2026-12-02 17:00:00.000000+00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '3e8a5c2d9f17'
down_revision = '4c8e1f2a9b57'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('advocacy_erasures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_hash', sa.String(length=64), nullable=False),
    sa.Column('surrogate', sa.String(length=64), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('financial_purged_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_erasures')),
    sa.UniqueConstraint('surrogate', name=op.f('uq_advocacy_erasures_surrogate')),
    sa.UniqueConstraint('user_hash', name=op.f('uq_advocacy_erasures_user_hash'))
    )
    with op.batch_alter_table('advocacy_erasures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_advocacy_erasures_erased_at'), ['erased_at'], unique=False)


def downgrade():
    with op.batch_alter_table('advocacy_erasures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_advocacy_erasures_erased_at'))
    op.drop_table('advocacy_erasures')
