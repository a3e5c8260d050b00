"""audit log

Revision ID: 6068b5a357c6
Revises: c2c3f9bbbaf5
Create Date: 2026-11-23 16:30:07.582059+00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '6068b5a357c6'
down_revision = 'c2c3f9bbbaf5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('advocacy_audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('actor_user_id', sa.String(length=255), nullable=True),
    sa.Column('actor_email', sa.String(length=320), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('subject_type', sa.String(length=32), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_audit_log'))
    )
    with op.batch_alter_table('advocacy_audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_advocacy_audit_log_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_audit_log_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_advocacy_audit_log_subject', ['subject_type', 'subject_id'], unique=False)



def downgrade():
    with op.batch_alter_table('advocacy_audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_advocacy_audit_log_subject')
        batch_op.drop_index(batch_op.f('ix_advocacy_audit_log_created_at'))
        batch_op.drop_index(batch_op.f('ix_advocacy_audit_log_action'))

    op.drop_table('advocacy_audit_log')
