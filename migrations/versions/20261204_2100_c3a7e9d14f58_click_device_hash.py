"""the hashed device cluster of a click, for the fraud review's shared-device rule

Revision ID: c3a7e9d14f58
Revises: b8e41c7d2a65
Create Date: 2026-12-04 21:00:00.000000+00:00

A nullable column without a default: on PostgreSQL adding it rewrites nothing (instant on a table of
millions of clicks); clicks counted before it have no device cluster and never match the rule.
"""

from alembic import op
import sqlalchemy as sa


revision = 'c3a7e9d14f58'
down_revision = 'b8e41c7d2a65'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('advocacy_referral_clicks', sa.Column('device_hash', sa.String(length=32), nullable=True))


def downgrade():
    # SQLite 3.35+ drops a column in place (no table copy, so no trigger or index is lost).
    op.drop_column('advocacy_referral_clicks', 'device_hash')
