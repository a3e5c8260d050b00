"""api keys

Revision ID: 5b7e2c9d41a3
Revises: 480721b40708
Create Date: 2026-12-02 14:00:00+00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '5b7e2c9d41a3'
down_revision = '480721b40708'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('advocacy_api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('display_prefix', sa.String(length=32), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('created_by_user_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by_user_id', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_api_keys')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_advocacy_api_keys_token_hash'))
    )


def downgrade():
    op.drop_table('advocacy_api_keys')
