"""The plugin's own Alembic tree (its own version table, never the host's); run by :mod:`advocacy_portal.migrate`."""
