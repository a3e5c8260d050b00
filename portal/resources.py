"""Where the plugin's templates and migrations are.

In a wheel they ship inside the ``portal`` package (``portal/templates``, ``portal/migrations``); in a
source checkout they are the top-level ``templates/`` and ``migrations/`` folders beside it.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _locate(name: str) -> Path:
    for candidate in (_PACKAGE_DIR / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise RuntimeError(f"Advocacy Portal is installed without its {name}/ folder")


def templates_dir() -> Path:
    """The folder holding ``advocacy/...`` templates."""
    return _locate("templates")


def migrations_dir() -> Path:
    """The plugin's Alembic script directory."""
    return _locate("migrations")


def static_dir() -> Path:
    """The plugin's CSS and JavaScript."""
    return _PACKAGE_DIR / "static"
