"""Where the plugin's templates, migrations and static files are.

The build maps the repository's ``templates/`` and ``migrations/`` folders into the package as
``advocacy_portal.templates`` and ``advocacy_portal.migrations`` (see ``pyproject.toml``), in a wheel
and in an editable install alike, so one lookup through :mod:`importlib.resources` finds them in both.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _folder(package: str, *parts: str) -> Path:
    path = Path(str(files(package).joinpath(*parts)))
    if not path.is_dir():
        raise RuntimeError(f"Advocacy Portal is installed without {package} ({path} is missing)")
    return path


def templates_dir() -> Path:
    """The folder holding ``advocacy/...`` templates."""
    return _folder("advocacy_portal.templates")


def migrations_dir() -> Path:
    """The plugin's Alembic script directory."""
    return _folder("advocacy_portal.migrations")


def static_dir() -> Path:
    """The plugin's CSS and JavaScript."""
    return _folder("advocacy_portal", "static")
