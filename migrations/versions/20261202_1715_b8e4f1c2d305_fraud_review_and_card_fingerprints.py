"""fraud review and card fingerprints

Revision ID: b8e4f1c2d305
Revises: 4e8a1c6d2f90
Create Date: 2026-12-02 17:12:06.683863+00:00
"""

from alembic import op
import sqlalchemy as sa


revision = 'b8e4f1c2d305'
down_revision = '4e8a1c6d2f90'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('advocacy_fraud_allowances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('advocate_id', sa.Integer(), nullable=True),
    sa.Column('friend_user_id', sa.String(length=255), nullable=True),
    sa.Column('ip_hash', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by_user_id', sa.String(length=255), nullable=True),
    sa.Column('created_by_email', sa.String(length=320), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('pair', 'ip')", name=op.f('ck_advocacy_fraud_allowances_kind')),
    sa.ForeignKeyConstraint(['advocate_id'], ['advocacy_advocates.id'], name=op.f('fk_advocacy_fraud_allowances_advocate_id_advocacy_advocates'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_fraud_allowances'))
    )
    with op.batch_alter_table('advocacy_fraud_allowances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_advocacy_fraud_allowances_advocate_id'), ['advocate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_fraud_allowances_ip_hash'), ['ip_hash'], unique=False)

    op.create_table('advocacy_fraud_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversion_id', sa.Integer(), nullable=False),
    sa.Column('reward_id', sa.Integer(), nullable=True),
    sa.Column('advocate_id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('detail', sa.String(length=500), nullable=True),
    sa.Column('ip_hash', sa.String(length=64), nullable=True),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('decided_by_user_id', sa.String(length=255), nullable=True),
    sa.Column('decided_by_email', sa.String(length=320), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('held', 'approved', 'voided', 'blocked')", name=op.f('ck_advocacy_fraud_reviews_state')),
    sa.ForeignKeyConstraint(['advocate_id'], ['advocacy_advocates.id'], name=op.f('fk_advocacy_fraud_reviews_advocate_id_advocacy_advocates'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['conversion_id'], ['advocacy_conversions.id'], name=op.f('fk_advocacy_fraud_reviews_conversion_id_advocacy_conversions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['referral_id'], ['advocacy_referrals.id'], name=op.f('fk_advocacy_fraud_reviews_referral_id_advocacy_referrals'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reward_id'], ['advocacy_rewards.id'], name=op.f('fk_advocacy_fraud_reviews_reward_id_advocacy_rewards'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_fraud_reviews')),
    sa.UniqueConstraint('conversion_id', name=op.f('uq_advocacy_fraud_reviews_conversion_id'))
    )
    with op.batch_alter_table('advocacy_fraud_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_advocacy_fraud_reviews_advocate_id'), ['advocate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_fraud_reviews_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_fraud_reviews_deadline_at'), ['deadline_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_fraud_reviews_state'), ['state'], unique=False)

    with op.batch_alter_table('advocacy_conversions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('card_fingerprint', sa.String(length=255), nullable=True))
        batch_op.create_index(batch_op.f('ix_advocacy_conversions_card_fingerprint'), ['card_fingerprint'], unique=False)



def downgrade():
    with op.batch_alter_table('advocacy_conversions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_advocacy_conversions_card_fingerprint'))
        batch_op.drop_column('card_fingerprint')

    with op.batch_alter_table('advocacy_fraud_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_advocacy_fraud_reviews_state'))
        batch_op.drop_index(batch_op.f('ix_advocacy_fraud_reviews_deadline_at'))
        batch_op.drop_index(batch_op.f('ix_advocacy_fraud_reviews_created_at'))
        batch_op.drop_index(batch_op.f('ix_advocacy_fraud_reviews_advocate_id'))

    op.drop_table('advocacy_fraud_reviews')
    with op.batch_alter_table('advocacy_fraud_allowances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_advocacy_fraud_allowances_ip_hash'))
        batch_op.drop_index(batch_op.f('ix_advocacy_fraud_allowances_advocate_id'))

    op.drop_table('advocacy_fraud_allowances')
