"""outbox for every side effect

The emails-only outbox becomes the one outbox of every side effect: a topic, a JSON payload, a dedupe
key, a group, a lease. Existing messages are kept: each becomes an ``email`` task (sent → done,
failed → dead).

Revision ID: 480721b40708
Revises: a6d0a6001de9
Create Date: 2026-12-02 14:00:00+00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '480721b40708'
down_revision = 'a6d0a6001de9'
branch_labels = None
depends_on = None



def _create_tasks_table(name):
    op.create_table(name,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=True),
    sa.Column('group_key', sa.String(length=255), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('subject_type', sa.String(length=32), nullable=True),
    sa.Column('subject_id', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease', sa.String(length=32), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('queued', 'done', 'dead')", name=op.f('ck_advocacy_outbox_state')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_outbox')),
    sa.UniqueConstraint('key', name=op.f('uq_advocacy_outbox_key'))
    )


def upgrade():
    bind = op.get_bind()
    with op.batch_alter_table('advocacy_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_advocacy_outbox_due')
    op.rename_table('advocacy_outbox', 'advocacy_outbox_emails_old')
    if bind.dialect.name == "postgresql":
        # Constraint names follow the table; free the new table's names.
        op.execute('ALTER TABLE advocacy_outbox_emails_old RENAME CONSTRAINT pk_advocacy_outbox TO pk_advocacy_outbox_emails_old')
        op.execute('ALTER TABLE advocacy_outbox_emails_old RENAME CONSTRAINT ck_advocacy_outbox_state TO ck_advocacy_outbox_emails_old_state')
    _create_tasks_table('advocacy_outbox')
    # One INSERT ... SELECT, so `flask advocacy db upgrade --sql` prints it for a DBA as well.
    build = "json_build_object" if bind.dialect.name == "postgresql" else "json_object"
    op.execute(f"""
        INSERT INTO advocacy_outbox (id, topic, payload, subject_type, subject_id, state, attempts,
                                     next_attempt_at, last_error, created_at, done_at)
        SELECT id, 'email',
               {build}('kind', topic, 'to', to_address, 'subject', subject, 'text', text_body, 'html', html_body),
               subject_type, subject_id,
               CASE state WHEN 'sent' THEN 'done' WHEN 'failed' THEN 'dead' ELSE 'queued' END,
               attempts, next_attempt_at, last_error, created_at, sent_at
        FROM advocacy_outbox_emails_old
    """)
    if bind.dialect.name == "postgresql":
        op.execute("SELECT setval(pg_get_serial_sequence('advocacy_outbox', 'id'), "
                   "COALESCE((SELECT max(id) FROM advocacy_outbox), 0) + 1, false)")
    op.drop_table('advocacy_outbox_emails_old')
    # Partial indexes: only the waiting tasks, so claiming stays fast with millions of done ones.
    queued = sa.text("state = 'queued'")
    queued_in_group = sa.text("state = 'queued' AND group_key IS NOT NULL")
    op.create_index('ix_advocacy_outbox_due', 'advocacy_outbox', ['next_attempt_at', 'id'], unique=False,
                    postgresql_where=queued, sqlite_where=queued)
    op.create_index('ix_advocacy_outbox_group', 'advocacy_outbox', ['group_key', 'id'], unique=False,
                    postgresql_where=queued_in_group, sqlite_where=queued_in_group)
    op.create_index('ix_advocacy_outbox_state', 'advocacy_outbox', ['state'], unique=False)
    op.create_index('ix_advocacy_outbox_topic', 'advocacy_outbox', ['topic'], unique=False)


def downgrade():
    # Only the email tasks can go back into the emails-only outbox; other tasks are dropped.
    bind = op.get_bind()
    for name in ('ix_advocacy_outbox_due', 'ix_advocacy_outbox_group', 'ix_advocacy_outbox_state',
                 'ix_advocacy_outbox_topic'):
        op.drop_index(name, table_name='advocacy_outbox')
    op.rename_table('advocacy_outbox', 'advocacy_outbox_tasks_old')
    if bind.dialect.name == "postgresql":
        op.execute('ALTER TABLE advocacy_outbox_tasks_old RENAME CONSTRAINT pk_advocacy_outbox TO pk_advocacy_outbox_tasks_old')
        op.execute('ALTER TABLE advocacy_outbox_tasks_old RENAME CONSTRAINT ck_advocacy_outbox_state TO ck_advocacy_outbox_tasks_old_state')
        op.execute('ALTER TABLE advocacy_outbox_tasks_old RENAME CONSTRAINT uq_advocacy_outbox_key TO uq_advocacy_outbox_tasks_old_key')
    op.create_table('advocacy_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('subject_type', sa.String(length=32), nullable=True),
    sa.Column('subject_id', sa.String(length=64), nullable=True),
    sa.Column('to_address', sa.String(length=320), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('text_body', sa.Text(), nullable=False),
    sa.Column('html_body', sa.Text(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('queued', 'sent', 'failed')", name=op.f('ck_advocacy_outbox_state')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_outbox'))
    )
    if bind.dialect.name == "postgresql":
        field = "payload->>'{}'".format
    else:
        field = "json_extract(payload, '$.{}')".format
    op.execute(f"""
        INSERT INTO advocacy_outbox (id, topic, subject_type, subject_id, to_address, subject, text_body,
                                     html_body, state, attempts, last_error, created_at, next_attempt_at, sent_at)
        SELECT id, COALESCE({field('kind')}, 'email'), subject_type, subject_id, {field('to')},
               {field('subject')}, {field('text')}, {field('html')},
               CASE state WHEN 'done' THEN 'sent' WHEN 'dead' THEN 'failed' ELSE 'queued' END,
               attempts, last_error, created_at, next_attempt_at, done_at
        FROM advocacy_outbox_tasks_old WHERE topic = 'email'
    """)
    op.drop_table('advocacy_outbox_tasks_old')
    with op.batch_alter_table('advocacy_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_advocacy_outbox_due', ['state', 'next_attempt_at'], unique=False)
