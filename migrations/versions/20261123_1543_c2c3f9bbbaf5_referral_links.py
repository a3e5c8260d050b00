"""referral links

Revision ID: c2c3f9bbbaf5
Revises: 
Create Date: 2026-11-23 15:43:15.989466+00:00
"""

from alembic import op
import sqlalchemy as sa


revision = 'c2c3f9bbbaf5'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('advocacy_advocates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('email_normalized', sa.String(length=320), nullable=True),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('link_issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_advocates')),
    sa.UniqueConstraint('code', name=op.f('uq_advocacy_advocates_code')),
    sa.UniqueConstraint('user_id', name=op.f('uq_advocacy_advocates_user_id'))
    )
    with op.batch_alter_table('advocacy_advocates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_advocacy_advocates_email_normalized'), ['email_normalized'], unique=False)

    op.create_table('advocacy_referral_clicks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('advocate_id', sa.Integer(), nullable=False),
    sa.Column('campaign', sa.String(length=64), nullable=True),
    sa.Column('clicked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('referrer_host', sa.String(length=255), nullable=True),
    sa.Column('device_class', sa.String(length=16), nullable=False),
    sa.Column('ip_hash', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.CheckConstraint("device_class IN ('desktop', 'mobile', 'tablet', 'bot', 'unknown')", name=op.f('ck_advocacy_referral_clicks_device_class')),
    sa.ForeignKeyConstraint(['advocate_id'], ['advocacy_advocates.id'], name=op.f('fk_advocacy_referral_clicks_advocate_id_advocacy_advocates'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_referral_clicks'))
    )
    with op.batch_alter_table('advocacy_referral_clicks', schema=None) as batch_op:
        batch_op.create_index('ix_advocacy_referral_clicks_dedupe', ['advocate_id', 'ip_hash', 'clicked_at'], unique=False)

    op.create_table('advocacy_referrals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('advocate_id', sa.Integer(), nullable=False),
    sa.Column('friend_user_id', sa.String(length=255), nullable=False),
    sa.Column('friend_email_normalized', sa.String(length=320), nullable=True),
    sa.Column('campaign', sa.String(length=64), nullable=True),
    sa.Column('click_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('flag_reason', sa.String(length=64), nullable=True),
    sa.Column('clicked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(status = 'flagged') = (flag_reason IS NOT NULL)", name=op.f('ck_advocacy_referrals_flag_reason_iff_flagged')),
    sa.CheckConstraint("status IN ('signed_up', 'flagged')", name=op.f('ck_advocacy_referrals_status')),
    sa.ForeignKeyConstraint(['advocate_id'], ['advocacy_advocates.id'], name=op.f('fk_advocacy_referrals_advocate_id_advocacy_advocates'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['click_id'], ['advocacy_referral_clicks.id'], name=op.f('fk_advocacy_referrals_click_id_advocacy_referral_clicks'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_referrals')),
    sa.UniqueConstraint('friend_user_id', name=op.f('uq_advocacy_referrals_friend_user_id'))
    )
    with op.batch_alter_table('advocacy_referrals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_advocacy_referrals_advocate_id'), ['advocate_id'], unique=False)



def downgrade():
    with op.batch_alter_table('advocacy_referrals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_advocacy_referrals_advocate_id'))

    op.drop_table('advocacy_referrals')
    with op.batch_alter_table('advocacy_referral_clicks', schema=None) as batch_op:
        batch_op.drop_index('ix_advocacy_referral_clicks_dedupe')

    op.drop_table('advocacy_referral_clicks')
    with op.batch_alter_table('advocacy_advocates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_advocacy_advocates_email_normalized'))

    op.drop_table('advocacy_advocates')
