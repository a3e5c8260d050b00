"""testimonials

Revision ID: f5c8e1e07805
Revises: 6068b5a357c6
Create Date: 2026-11-23 16:37:07.756431+00:00
"""

from alembic import op
import sqlalchemy as sa


revision = 'f5c8e1e07805'
down_revision = '6068b5a357c6'
branch_labels = None
depends_on = None


def upgrade():
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
    with op.batch_alter_table('advocacy_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_advocacy_outbox_due', ['state', 'next_attempt_at'], unique=False)

    op.create_table('advocacy_testimonials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('author_user_id', sa.String(length=255), nullable=False),
    sa.Column('author_email', sa.String(length=320), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('display_name', sa.String(length=80), nullable=False),
    sa.Column('role', sa.String(length=120), nullable=True),
    sa.Column('photo_key', sa.String(length=255), nullable=True),
    sa.Column('product_key', sa.String(length=64), nullable=True),
    sa.Column('consent', sa.String(length=24), nullable=False),
    sa.Column('consent_text', sa.Text(), nullable=False),
    sa.Column('consent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('featured', sa.Boolean(), nullable=False),
    sa.Column('rejection_reason', sa.Text(), nullable=True),
    sa.Column('highlight_start', sa.Integer(), nullable=True),
    sa.Column('highlight_end', sa.Integer(), nullable=True),
    sa.Column('verified_customer', sa.Boolean(), nullable=False),
    sa.Column('incentivised', sa.Boolean(), nullable=False),
    sa.Column('incentive_reason', sa.String(length=255), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('moderated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('moderated_by_user_id', sa.String(length=255), nullable=True),
    sa.Column('moderated_by_email', sa.String(length=320), nullable=True),
    sa.Column('submission_nonce', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("(kind = 'review') = (product_key IS NOT NULL)", name=op.f('ck_advocacy_testimonials_product_iff_review')),
    sa.CheckConstraint("(state = 'rejected') = (rejection_reason IS NOT NULL)", name=op.f('ck_advocacy_testimonials_reason_iff_rejected')),
    sa.CheckConstraint("consent IN ('publish_named', 'publish_anonymous', 'do_not_publish')", name=op.f('ck_advocacy_testimonials_consent')),
    sa.CheckConstraint("kind IN ('testimonial', 'review')", name=op.f('ck_advocacy_testimonials_kind')),
    sa.CheckConstraint("state IN ('pending', 'approved', 'rejected', 'unpublished', 'withdrawn')", name=op.f('ck_advocacy_testimonials_state')),
    sa.CheckConstraint('(highlight_start IS NULL AND highlight_end IS NULL) OR (highlight_start >= 0 AND highlight_end > highlight_start)', name=op.f('ck_advocacy_testimonials_highlight')),
    sa.CheckConstraint('rating BETWEEN 1 AND 5', name=op.f('ck_advocacy_testimonials_rating')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocacy_testimonials')),
    sa.UniqueConstraint('submission_nonce', name=op.f('uq_advocacy_testimonials_submission_nonce'))
    )
    with op.batch_alter_table('advocacy_testimonials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_advocacy_testimonials_author_user_id'), ['author_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_advocacy_testimonials_product_key'), ['product_key'], unique=False)
        batch_op.create_index('ix_advocacy_testimonials_public', ['state', 'consent', 'featured', 'published_at'], unique=False)
        batch_op.create_index('ix_advocacy_testimonials_state_submitted', ['state', 'submitted_at'], unique=False)



def downgrade():
    with op.batch_alter_table('advocacy_testimonials', schema=None) as batch_op:
        batch_op.drop_index('ix_advocacy_testimonials_state_submitted')
        batch_op.drop_index('ix_advocacy_testimonials_public')
        batch_op.drop_index(batch_op.f('ix_advocacy_testimonials_product_key'))
        batch_op.drop_index(batch_op.f('ix_advocacy_testimonials_author_user_id'))

    op.drop_table('advocacy_testimonials')
    with op.batch_alter_table('advocacy_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_advocacy_outbox_due')

    op.drop_table('advocacy_outbox')
