"""rewards ledger and stripe

Revision ID: a6d0a6001de9
Revises: f5c8e1e07805
Create Date: 2026-11-23 16:38:43.754507+00:00
"""

from alembic import op
import sqlalchemy as sa


revision = 'a6d0a6001de9'
down_revision = 'f5c8e1e07805'
branch_labels = None
depends_on = None


# The ledger is append-only: corrections are new, reversing transactions. On PostgreSQL the database
# itself refuses to change or remove an entry or a transaction.
APPEND_ONLY_TABLES = ("advocacy_ledger_entries", "advocacy_ledger_transactions")

APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION advocacy_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the advocacy ledger is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql
"""


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    op.create_table('advocacy_stripe_customers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_stripe_customers')),
    sa.UniqueConstraint('stripe_customer_id', name=op.f('uq_advocacy_stripe_customers_stripe_customer_id')),
    sa.UniqueConstraint('user_id', name=op.f('uq_advocacy_stripe_customers_user_id'))
    )
    op.create_table('advocacy_ledger_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('advocate_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('balance_minor', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind != 'reserved' OR balance_minor >= 0", name=op.f('ck_advocacy_ledger_accounts_reserved_not_negative')),
    sa.CheckConstraint("kind IN ('pending', 'available', 'reserved', 'redeemed', 'reward_expense', 'clawbacks', 'adjustments')", name=op.f('ck_advocacy_ledger_accounts_kind')),
    sa.ForeignKeyConstraint(['advocate_id'], ['advocacy_advocates.id'], name=op.f('fk_advocacy_ledger_accounts_advocate_id_advocacy_advocates'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_ledger_accounts')),
    sa.UniqueConstraint('owner', 'kind', 'currency', name='uq_advocacy_ledger_accounts_owner_kind')
    )
    with op.batch_alter_table('advocacy_ledger_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_advocacy_ledger_accounts_advocate_id'), ['advocate_id'], unique=False)

    op.create_table('advocacy_redemptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('advocate_id', sa.Integer(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_balance_transaction_id', sa.String(length=255), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('requested_by_user_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('reserved', 'unknown', 'completed', 'failed')", name=op.f('ck_advocacy_redemptions_state')),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_advocacy_redemptions_amount_positive')),
    sa.ForeignKeyConstraint(['advocate_id'], ['advocacy_advocates.id'], name=op.f('fk_advocacy_redemptions_advocate_id_advocacy_advocates'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_redemptions')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_advocacy_redemptions_idempotency_key'))
    )
    with op.batch_alter_table('advocacy_redemptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_advocacy_redemptions_advocate_id'), ['advocate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_redemptions_state'), ['state'], unique=False)

    op.create_table('advocacy_conversions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payment_key', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('checkout_session_id', sa.String(length=255), nullable=True),
    sa.Column('payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('charge_id', sa.String(length=255), nullable=True),
    sa.Column('invoice_id', sa.String(length=255), nullable=True),
    sa.Column('subscription_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=True),
    sa.Column('customer_user_id', sa.String(length=255), nullable=True),
    sa.Column('referral_id', sa.Integer(), nullable=True),
    sa.Column('advocate_id', sa.Integer(), nullable=True),
    sa.Column('campaign', sa.String(length=64), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refunded_minor', sa.BigInteger(), nullable=False),
    sa.Column('dispute_status', sa.String(length=16), nullable=True),
    sa.Column('dispute_id', sa.String(length=255), nullable=True),
    sa.Column('reward_outcome', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("dispute_status IS NULL OR dispute_status IN ('open', 'won', 'lost')", name=op.f('ck_advocacy_conversions_dispute_status')),
    sa.CheckConstraint('refunded_minor >= 0', name=op.f('ck_advocacy_conversions_refunded_not_negative')),
    sa.ForeignKeyConstraint(['advocate_id'], ['advocacy_advocates.id'], name=op.f('fk_advocacy_conversions_advocate_id_advocacy_advocates'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['referral_id'], ['advocacy_referrals.id'], name=op.f('fk_advocacy_conversions_referral_id_advocacy_referrals'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_conversions')),
    sa.UniqueConstraint('payment_key', name=op.f('uq_advocacy_conversions_payment_key'))
    )
    with op.batch_alter_table('advocacy_conversions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_advocacy_conversions_advocate_id'), ['advocate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_conversions_charge_id'), ['charge_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_conversions_checkout_session_id'), ['checkout_session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_conversions_customer_user_id'), ['customer_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_conversions_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_conversions_paid_at'), ['paid_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_conversions_payment_intent_id'), ['payment_intent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_conversions_referral_id'), ['referral_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_conversions_stripe_customer_id'), ['stripe_customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_conversions_subscription_id'), ['subscription_id'], unique=False)

    op.create_table('advocacy_friend_promotion_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('stripe_promotion_code_id', sa.String(length=255), nullable=False),
    sa.Column('code', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['referral_id'], ['advocacy_referrals.id'], name=op.f('fk_advocacy_friend_promotion_codes_referral_id_advocacy_referrals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_friend_promotion_codes')),
    sa.UniqueConstraint('referral_id', name=op.f('uq_advocacy_friend_promotion_codes_referral_id'))
    )
    op.create_table('advocacy_rewards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversion_id', sa.Integer(), nullable=False),
    sa.Column('advocate_id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=True),
    sa.Column('rule', sa.JSON(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('earned_month', sa.String(length=7), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('pending_minor', sa.BigInteger(), nullable=False),
    sa.Column('available_minor', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('hold_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'available', 'void')", name=op.f('ck_advocacy_rewards_status')),
    sa.CheckConstraint('amount_minor >= 0', name=op.f('ck_advocacy_rewards_amount_not_negative')),
    sa.ForeignKeyConstraint(['advocate_id'], ['advocacy_advocates.id'], name=op.f('fk_advocacy_rewards_advocate_id_advocacy_advocates'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['conversion_id'], ['advocacy_conversions.id'], name=op.f('fk_advocacy_rewards_conversion_id_advocacy_conversions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['referral_id'], ['advocacy_referrals.id'], name=op.f('fk_advocacy_rewards_referral_id_advocacy_referrals'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_rewards')),
    sa.UniqueConstraint('conversion_id', name=op.f('uq_advocacy_rewards_conversion_id'))
    )
    with op.batch_alter_table('advocacy_rewards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_advocacy_rewards_advocate_id'), ['advocate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_rewards_hold_until'), ['hold_until'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_rewards_status'), ['status'], unique=False)

    op.create_table('advocacy_stripe_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('outcome', sa.String(length=64), nullable=False),
    sa.Column('conversion_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversion_id'], ['advocacy_conversions.id'], name=op.f('fk_advocacy_stripe_events_conversion_id_advocacy_conversions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_stripe_events')),
    sa.UniqueConstraint('event_id', name=op.f('uq_advocacy_stripe_events_event_id'))
    )
    with op.batch_alter_table('advocacy_stripe_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_advocacy_stripe_events_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_stripe_events_type'), ['type'], unique=False)

    op.create_table('advocacy_ledger_transactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('memo', sa.Text(), nullable=True),
    sa.Column('conversion_id', sa.Integer(), nullable=True),
    sa.Column('reward_id', sa.Integer(), nullable=True),
    sa.Column('redemption_id', sa.Integer(), nullable=True),
    sa.Column('actor_user_id', sa.String(length=255), nullable=True),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversion_id'], ['advocacy_conversions.id'], name=op.f('fk_advocacy_ledger_transactions_conversion_id_advocacy_conversions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['redemption_id'], ['advocacy_redemptions.id'], name=op.f('fk_advocacy_ledger_transactions_redemption_id_advocacy_redemptions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reward_id'], ['advocacy_rewards.id'], name=op.f('fk_advocacy_ledger_transactions_reward_id_advocacy_rewards'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_ledger_transactions')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_advocacy_ledger_transactions_idempotency_key'))
    )
    with op.batch_alter_table('advocacy_ledger_transactions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_advocacy_ledger_transactions_conversion_id'), ['conversion_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_ledger_transactions_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_ledger_transactions_reason'), ['reason'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_ledger_transactions_redemption_id'), ['redemption_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_ledger_transactions_reward_id'), ['reward_id'], unique=False)

    op.create_table('advocacy_ledger_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transaction_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['advocacy_ledger_accounts.id'], name=op.f('fk_advocacy_ledger_entries_account_id_advocacy_ledger_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['transaction_id'], ['advocacy_ledger_transactions.id'], name=op.f('fk_advocacy_ledger_entries_transaction_id_advocacy_ledger_transactions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_ledger_entries'))
    )
    with op.batch_alter_table('advocacy_ledger_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_advocacy_ledger_entries_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_ledger_entries_transaction_id'), ['transaction_id'], unique=False)

    if _postgresql():
        op.execute(APPEND_ONLY_FUNCTION)
        for table in APPEND_ONLY_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION advocacy_ledger_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION advocacy_ledger_append_only()"
            )


def downgrade():
    if _postgresql():
        for table in APPEND_ONLY_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS advocacy_ledger_append_only()")
    with op.batch_alter_table('advocacy_ledger_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_advocacy_ledger_entries_transaction_id'))
        batch_op.drop_index(batch_op.f('ix_advocacy_ledger_entries_account_id'))

    op.drop_table('advocacy_ledger_entries')
    with op.batch_alter_table('advocacy_ledger_transactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_advocacy_ledger_transactions_reward_id'))
        batch_op.drop_index(batch_op.f('ix_advocacy_ledger_transactions_redemption_id'))
        batch_op.drop_index(batch_op.f('ix_advocacy_ledger_transactions_reason'))
        batch_op.drop_index(batch_op.f('ix_advocacy_ledger_transactions_created_at'))
        batch_op.drop_index(batch_op.f('ix_advocacy_ledger_transactions_conversion_id'))

    op.drop_table('advocacy_ledger_transactions')
    with op.batch_alter_table('advocacy_stripe_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_advocacy_stripe_events_type'))
        batch_op.drop_index(batch_op.f('ix_advocacy_stripe_events_received_at'))

    op.drop_table('advocacy_stripe_events')
    with op.batch_alter_table('advocacy_rewards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_advocacy_rewards_status'))
        batch_op.drop_index(batch_op.f('ix_advocacy_rewards_hold_until'))
        batch_op.drop_index(batch_op.f('ix_advocacy_rewards_advocate_id'))

    op.drop_table('advocacy_rewards')
    op.drop_table('advocacy_friend_promotion_codes')
    with op.batch_alter_table('advocacy_conversions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_advocacy_conversions_subscription_id'))
        batch_op.drop_index(batch_op.f('ix_advocacy_conversions_stripe_customer_id'))
        batch_op.drop_index(batch_op.f('ix_advocacy_conversions_referral_id'))
        batch_op.drop_index(batch_op.f('ix_advocacy_conversions_payment_intent_id'))
        batch_op.drop_index(batch_op.f('ix_advocacy_conversions_paid_at'))
        batch_op.drop_index(batch_op.f('ix_advocacy_conversions_invoice_id'))
        batch_op.drop_index(batch_op.f('ix_advocacy_conversions_customer_user_id'))
        batch_op.drop_index(batch_op.f('ix_advocacy_conversions_checkout_session_id'))
        batch_op.drop_index(batch_op.f('ix_advocacy_conversions_charge_id'))
        batch_op.drop_index(batch_op.f('ix_advocacy_conversions_advocate_id'))

    op.drop_table('advocacy_conversions')
    with op.batch_alter_table('advocacy_redemptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_advocacy_redemptions_state'))
        batch_op.drop_index(batch_op.f('ix_advocacy_redemptions_advocate_id'))

    op.drop_table('advocacy_redemptions')
    with op.batch_alter_table('advocacy_ledger_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_advocacy_ledger_accounts_advocate_id'))

    op.drop_table('advocacy_ledger_accounts')
    op.drop_table('advocacy_stripe_customers')
