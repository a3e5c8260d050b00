"""The append-only ledger allows a fold for retention and a redaction of notes (PostgreSQL).

``privacy purge`` deletes an erased person's ledger transactions older than
ADVOCACY_FINANCIAL_RETENTION_DAYS and posts their net effect as one ``balance.carried_forward``
transaction (:func:`advocacy_portal.services.ledger.carry_forward`): the trigger lets a DELETE through
only while the transaction-local setting ``advocacy.ledger_fold`` is ``on``. Erasure takes the
person's email and name out of staff memos (:func:`advocacy_portal.services.ledger.redact`): an UPDATE
of a transaction passes only while ``advocacy.ledger_redact`` is ``on`` and only when nothing but
``memo``, ``details`` and ``actor_user_id`` changes. Entries are never updated; TRUNCATE is still
refused. SQLite has no trigger: nothing to change there.

Revision ID: 5d1f7a3c8e42
Revises: 4c8e2b6a9d15
Create Date: 2026-12-03 06:30:00
"""

from alembic import op

revision = "5d1f7a3c8e42"
down_revision = "4c8e2b6a9d15"
branch_labels = None
depends_on = None

FOLDING_FUNCTION = """
CREATE OR REPLACE FUNCTION advocacy_ledger_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('advocacy.ledger_fold', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'advocacy_ledger_transactions'
            AND current_setting('advocacy.ledger_redact', true) = 'on'
            AND (to_jsonb(NEW) - 'memo' - 'details' - 'actor_user_id')
                = (to_jsonb(OLD) - 'memo' - 'details' - 'actor_user_id') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the advocacy ledger is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql
"""

APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION advocacy_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the advocacy ledger is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql
"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FOLDING_FUNCTION)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_FUNCTION)
