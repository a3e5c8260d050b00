"""redemption as a single-use promotion code

Revision ID: 7c1e4d2b9a31
Revises: 5b7e2c9d41a3
Create Date: 2026-12-02 14:00:00+00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '7c1e4d2b9a31'
down_revision = '5b7e2c9d41a3'
branch_labels = None
depends_on = None


# Plain ADD COLUMNs where the database allows, so `flask advocacy db upgrade --sql` prints them for SQLite too.
FK_NAME = 'fk_advocacy_redemptions_used_conversion_id_advocacy_conversions'


def upgrade():
    table = 'advocacy_redemptions'
    op.add_column(table, sa.Column('method', sa.String(length=16), server_default='balance_credit', nullable=False))
    op.add_column(table, sa.Column('stripe_coupon_id', sa.String(length=255), nullable=True))
    op.add_column(table, sa.Column('stripe_promotion_code_id', sa.String(length=255), nullable=True))
    op.add_column(table, sa.Column('promotion_code', sa.String(length=255), nullable=True))
    op.add_column(table, sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column(table, sa.Column('code_state', sa.String(length=16), nullable=True))
    context = op.get_context()
    if context.dialect.name != 'sqlite':
        op.add_column(table, sa.Column('used_conversion_id', sa.Integer(), nullable=True))
        op.create_foreign_key(FK_NAME, table, 'advocacy_conversions', ['used_conversion_id'], ['id'],
                              ondelete='SET NULL')
    elif context.as_sql:
        # Printing SQL for a DBA: SQLite takes REFERENCES on a new column (a batch copy needs a live database).
        op.execute(f'ALTER TABLE {table} ADD COLUMN used_conversion_id INTEGER '
                   'REFERENCES advocacy_conversions (id) ON DELETE SET NULL')
    else:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column('used_conversion_id', sa.Integer(), nullable=True))
            batch_op.create_foreign_key(FK_NAME, 'advocacy_conversions', ['used_conversion_id'], ['id'],
                                        ondelete='SET NULL')
    op.add_column(table, sa.Column('returned_minor', sa.BigInteger(), server_default='0', nullable=False))
    op.create_index(op.f('ix_advocacy_redemptions_stripe_promotion_code_id'), table, ['stripe_promotion_code_id'])
    op.create_index(op.f('ix_advocacy_redemptions_code_state'), table, ['code_state'])
    op.create_index(op.f('ix_advocacy_redemptions_used_conversion_id'), table, ['used_conversion_id'])


def downgrade():
    with op.batch_alter_table('advocacy_redemptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_advocacy_redemptions_used_conversion_id'))
        batch_op.drop_index(batch_op.f('ix_advocacy_redemptions_code_state'))
        batch_op.drop_index(batch_op.f('ix_advocacy_redemptions_stripe_promotion_code_id'))
        batch_op.drop_constraint(FK_NAME, type_='foreignkey')
        for column in ('returned_minor', 'used_conversion_id', 'code_state', 'expires_at', 'promotion_code',
                       'stripe_promotion_code_id', 'stripe_coupon_id', 'method'):
            batch_op.drop_column(column)
