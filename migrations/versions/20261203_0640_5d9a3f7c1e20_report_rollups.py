"""report rollups: the program's figures per day and advocate, advocates' totals, and the triggers that mark stale days

Revision ID: 5d9a3f7c1e20
Revises: 7d2f9a4c1e83
Create Date: 2026-12-03 06:30:00.000000+00:00

The triggers write a row in ``advocacy_report_dirty_days`` for every day a change to a referral, a
payment or a reward touches, in the change's own transaction, whatever wrote it (ORM, Core, a bulk
import, a privacy erasure). ``flask advocacy rollups rebuild`` fills the new table.
"""

from alembic import op
import sqlalchemy as sa


revision = '5d9a3f7c1e20'
down_revision = '7d2f9a4c1e83'
branch_labels = None
depends_on = None

MONEY_COLUMNS = (
    'signups', 'flagged', 'paying_signups', 'first_payments', 'payments', 'referred_payments', 'revenue',
    'referral_revenue', 'net_revenue', 'referral_net_revenue', 'rewards', 'reward_pending',
    'reward_available', 'reward_clawed_back',
)

#: table -> (the columns whose change moves a figure, the days a row's figures fall on, per dialect)
WATCHED = {
    'advocacy_referrals': (
        ('advocate_id', 'status', 'created_at', 'first_paid_at'),
        {'postgresql': ("({row}.created_at AT TIME ZONE 'UTC')::date", "({row}.first_paid_at AT TIME ZONE 'UTC')::date"),
         'sqlite': ('date({row}.created_at)', 'date({row}.first_paid_at)')},
    ),
    'advocacy_conversions': (
        # The customer columns: the lifetime value's cache is keyed on the marks too.
        ('paid_at', 'amount_minor', 'currency', 'refunded_minor', 'dispute_status', 'referral_id', 'advocate_id',
         'customer_user_id', 'stripe_customer_id'),
        {'postgresql': ("({row}.paid_at AT TIME ZONE 'UTC')::date",),
         'sqlite': ('date({row}.paid_at)',)},
    ),
    'advocacy_rewards': (
        ('conversion_id', 'advocate_id', 'currency', 'amount_minor', 'pending_minor', 'available_minor', 'status'),
        {'postgresql': ("(SELECT (c.paid_at AT TIME ZONE 'UTC')::date FROM advocacy_conversions c "
                        "WHERE c.id = {row}.conversion_id)",),
         'sqlite': ('(SELECT date(c.paid_at) FROM advocacy_conversions c WHERE c.id = {row}.conversion_id)',)},
    ),
}


def _dialect():
    return op.get_bind().dialect.name


def _mark(days, row):
    listed = " UNION SELECT ".join(day.format(row=row) for day in days)
    return (f"INSERT INTO advocacy_report_dirty_days (day) SELECT d FROM (SELECT {listed}) AS marked(d) "
            "WHERE d IS NOT NULL")


def _sqlite_mark(days, row):
    listed = " UNION SELECT ".join(f"{day.format(row=row)} AS d" if n == 0 else day.format(row=row)
                                   for n, day in enumerate(days))
    return f"INSERT INTO advocacy_report_dirty_days (day) SELECT d FROM (SELECT {listed}) WHERE d IS NOT NULL"


def upgrade():
    op.create_table(
        'advocacy_report_days',
        sa.Column('advocate_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        *[sa.Column(name, sa.BigInteger(), nullable=False) for name in MONEY_COLUMNS],
        sa.PrimaryKeyConstraint('advocate_id', 'day', 'currency', name=op.f('pk_advocacy_report_days')),
    )
    op.create_index('ix_advocacy_report_days_day', 'advocacy_report_days', ['day'])
    op.create_table(
        'advocacy_report_advocate_totals',
        sa.Column('advocate_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        *[sa.Column(name, sa.BigInteger(), nullable=False) for name in MONEY_COLUMNS],
        sa.PrimaryKeyConstraint('advocate_id', 'currency', name=op.f('pk_advocacy_report_advocate_totals')),
    )
    op.create_table(
        'advocacy_report_dirty_days',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_report_dirty_days')),
    )
    op.create_index(op.f('ix_advocacy_report_dirty_days_day'), 'advocacy_report_dirty_days', ['day'])
    create_report_triggers()


def report_trigger_names(dialect):
    """``{trigger name: table}`` of the triggers :func:`create_report_triggers` makes on ``dialect``
    (``flask advocacy db check`` looks for each)."""
    if dialect == 'postgresql':
        return {f"{table}_report_dirty": table for table in WATCHED}
    if dialect == 'sqlite':
        return {f"{table}_report_dirty_{name}": table for table in WATCHED for name in ('insert', 'delete', 'update')}
    return {}


def create_report_triggers():
    """The triggers that mark a changed row's days stale (also run by ``flask advocacy db
    repair-triggers``: an Alembic batch operation on SQLite copies a table without its triggers)."""
    dialect = _dialect()
    for table, (columns, days) in WATCHED.items():
        watched = ", ".join(columns)
        if dialect == 'postgresql':
            op.execute(
                f"CREATE OR REPLACE FUNCTION {table}_report_dirty() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                "BEGIN\n"
                f"  IF TG_OP IN ('UPDATE', 'DELETE') THEN {_mark(days['postgresql'], 'OLD')}; END IF;\n"
                f"  IF TG_OP IN ('INSERT', 'UPDATE') THEN {_mark(days['postgresql'], 'NEW')}; END IF;\n"
                "  RETURN NULL;\n"
                "END $$"
            )
            op.execute(f"DROP TRIGGER IF EXISTS {table}_report_dirty ON {table}")
            op.execute(
                f"CREATE TRIGGER {table}_report_dirty AFTER INSERT OR DELETE OR UPDATE OF {watched} "
                f"ON {table} FOR EACH ROW EXECUTE FUNCTION {table}_report_dirty()"
            )
        elif dialect == 'sqlite':
            marks = {
                'insert': ('INSERT', _sqlite_mark(days['sqlite'], 'NEW')),
                'delete': ('DELETE', _sqlite_mark(days['sqlite'], 'OLD')),
                'update': (f'UPDATE OF {watched}',
                           f"{_sqlite_mark(days['sqlite'], 'OLD')}; {_sqlite_mark(days['sqlite'], 'NEW')}"),
            }
            for name, (event, body) in marks.items():
                op.execute(f"DROP TRIGGER IF EXISTS {table}_report_dirty_{name}")
                op.execute(f"CREATE TRIGGER {table}_report_dirty_{name} AFTER {event} ON {table} "
                           f"FOR EACH ROW BEGIN {body}; END")


def drop_report_triggers():
    """Drop the triggers. A later migration that copies one of the watched tables on SQLite
    (``batch_alter_table``) calls this first (SQLite refuses to rename a table a trigger names) and
    :func:`create_report_triggers` after; ``flask advocacy db check`` names any trigger missing."""
    dialect = _dialect()
    for table in WATCHED:
        if dialect == 'postgresql':
            op.execute(f"DROP TRIGGER IF EXISTS {table}_report_dirty ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_report_dirty()")
        elif dialect == 'sqlite':
            for name in ('insert', 'delete', 'update'):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_report_dirty_{name}")


def downgrade():
    drop_report_triggers()
    op.drop_index(op.f('ix_advocacy_report_dirty_days_day'), table_name='advocacy_report_dirty_days')
    op.drop_table('advocacy_report_dirty_days')
    op.drop_table('advocacy_report_advocate_totals')
    op.drop_index('ix_advocacy_report_days_day', table_name='advocacy_report_days')
    op.drop_table('advocacy_report_days')
