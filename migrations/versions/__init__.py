"""Alembic revisions of the plugin's tables."""
