"""link qr codes

Revision ID: 7d2f9a4c1e83
Revises: 5d1f7a3c8e42
Create Date: 2026-12-03 06:30:00.000000+00:00
"""

from alembic import op
import sqlalchemy as sa

from advocacy_portal.models.base import UTCDateTime


revision = '7d2f9a4c1e83'
down_revision = '5d1f7a3c8e42'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'advocacy_link_qr_codes',
        sa.Column('link_digest', sa.String(length=64), nullable=False),
        sa.Column('advocate_id', sa.Integer(), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('path', sa.Text(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['advocate_id'], ['advocacy_advocates.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('link_digest'),
    )
    op.create_index(
        'ix_advocacy_link_qr_codes_advocate_id', 'advocacy_link_qr_codes', ['advocate_id'], unique=False
    )


def downgrade():
    op.drop_index('ix_advocacy_link_qr_codes_advocate_id', table_name='advocacy_link_qr_codes')
    op.drop_table('advocacy_link_qr_codes')
