"""outgoing webhooks

Revision ID: 7b3e9c1d4f20
Revises: 7c1e4d2b9a31
Create Date: 2026-12-02 14:30:00.000000+00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '7b3e9c1d4f20'
down_revision = '7c1e4d2b9a31'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('advocacy_webhook_endpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.Column('event_types', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('disabled_reason', sa.String(length=255), nullable=True),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('secret', sa.String(length=255), nullable=False),
    sa.Column('previous_secret', sa.String(length=255), nullable=True),
    sa.Column('previous_secret_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_webhook_endpoints'))
    )
    op.create_table('advocacy_webhook_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['advocacy_webhook_endpoints.id'], name=op.f('fk_advocacy_webhook_messages_endpoint_id_advocacy_webhook_endpoints'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_webhook_messages')),
    sa.UniqueConstraint('message_id', name=op.f('uq_advocacy_webhook_messages_message_id'))
    )
    with op.batch_alter_table('advocacy_webhook_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_advocacy_webhook_messages_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_webhook_messages_event_type'), ['event_type'], unique=False)

    op.create_table('advocacy_webhook_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('replays', sa.Integer(), nullable=False),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'succeeded', 'failed', 'cancelled')", name=op.f('ck_advocacy_webhook_deliveries_state')),
    sa.ForeignKeyConstraint(['endpoint_id'], ['advocacy_webhook_endpoints.id'], name=op.f('fk_advocacy_webhook_deliveries_endpoint_id_advocacy_webhook_endpoints'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['advocacy_webhook_messages.id'], name=op.f('fk_advocacy_webhook_deliveries_message_id_advocacy_webhook_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_webhook_deliveries')),
    sa.UniqueConstraint('message_id', 'endpoint_id', name='uq_advocacy_webhook_deliveries_message_endpoint')
    )
    with op.batch_alter_table('advocacy_webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_advocacy_webhook_deliveries_endpoint', ['endpoint_id', 'id'], unique=False)

    op.create_table('advocacy_webhook_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('response_snippet', sa.Text(), nullable=True),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['delivery_id'], ['advocacy_webhook_deliveries.id'], name=op.f('fk_advocacy_webhook_attempts_delivery_id_advocacy_webhook_deliveries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_webhook_attempts'))
    )
    with op.batch_alter_table('advocacy_webhook_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_advocacy_webhook_attempts_delivery', ['delivery_id', 'id'], unique=False)



def downgrade():
    with op.batch_alter_table('advocacy_webhook_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_advocacy_webhook_attempts_delivery')

    op.drop_table('advocacy_webhook_attempts')
    with op.batch_alter_table('advocacy_webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_advocacy_webhook_deliveries_endpoint')

    op.drop_table('advocacy_webhook_deliveries')
    with op.batch_alter_table('advocacy_webhook_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_advocacy_webhook_messages_event_type'))
        batch_op.drop_index(batch_op.f('ix_advocacy_webhook_messages_created_at'))

    op.drop_table('advocacy_webhook_messages')
    op.drop_table('advocacy_webhook_endpoints')
