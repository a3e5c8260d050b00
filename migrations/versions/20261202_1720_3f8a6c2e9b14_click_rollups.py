"""click rollups and the indexes of the staff pages

Revision ID: 3f8a6c2e9b14
Revises: b8e4f1c2d305
Create Date: 2026-12-02 17:00:00.000000+00:00
"""

from alembic import op
import sqlalchemy as sa

from advocacy_portal.models.base import UTCDateTime


revision = '3f8a6c2e9b14'
down_revision = 'b8e4f1c2d305'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'advocacy_click_days',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('clicks', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('day', name=op.f('pk_advocacy_click_days')),
    )
    op.create_table(
        'advocacy_advocate_click_days',
        sa.Column('advocate_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('clicks', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('advocate_id', 'day', name=op.f('pk_advocacy_advocate_click_days')),
    )
    op.create_index('ix_advocacy_advocate_click_days_day', 'advocacy_advocate_click_days', ['day'])
    op.create_table(
        'advocacy_advocate_click_totals',
        sa.Column('advocate_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('clicks', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('advocate_id', name=op.f('pk_advocacy_advocate_click_totals')),
    )
    op.create_index(op.f('ix_advocacy_advocate_click_totals_clicks'), 'advocacy_advocate_click_totals',
                    ['clicks'])
    op.create_table(
        'advocacy_rollup_marks',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('last_id', sa.BigInteger(), nullable=False),
        sa.Column('folded_at', UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_advocacy_rollup_marks')),
    )
    op.create_index('ix_advocacy_referral_clicks_clicked_at', 'advocacy_referral_clicks', ['clicked_at'])
    op.create_index('ix_advocacy_referral_clicks_campaign', 'advocacy_referral_clicks',
                    ['campaign', 'advocate_id'])
    op.create_index('ix_advocacy_referrals_created_at', 'advocacy_referrals', ['created_at'])
    op.create_index('ix_advocacy_referrals_first_paid_at', 'advocacy_referrals', ['first_paid_at'])


def downgrade():
    op.drop_index('ix_advocacy_referrals_first_paid_at', table_name='advocacy_referrals')
    op.drop_index('ix_advocacy_referrals_created_at', table_name='advocacy_referrals')
    op.drop_index('ix_advocacy_referral_clicks_campaign', table_name='advocacy_referral_clicks')
    op.drop_index('ix_advocacy_referral_clicks_clicked_at', table_name='advocacy_referral_clicks')
    op.drop_table('advocacy_rollup_marks')
    op.drop_index(op.f('ix_advocacy_advocate_click_totals_clicks'), table_name='advocacy_advocate_click_totals')
    op.drop_table('advocacy_advocate_click_totals')
    op.drop_index('ix_advocacy_advocate_click_days_day', table_name='advocacy_advocate_click_days')
    op.drop_table('advocacy_advocate_click_days')
    op.drop_table('advocacy_click_days')
