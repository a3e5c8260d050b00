"""The built wheel works on its own: templates, migrations and static files ship inside it.

The wheel is built from this checkout and unpacked into a throwaway virtualenv whose only link to the
dev environment is a ``.pth`` file listing the dev site-packages (for Flask, SQLAlchemy, ...), never
the checkout itself. A small host app, written outside the checkout, then runs the plugin's migrations
through the ``flask advocacy db`` CLI and serves the plugin's pages, link redirect and static files.
"""

from __future__ import annotations

import importlib.util
import json
import os
import site
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent

REQUIRED_WHEEL_FILES = [
    "portal/templates/advocacy/base.html",
    "portal/templates/advocacy/referrals/page.html",
    "portal/migrations/env.py",
    "portal/migrations/script.py.mako",
    "portal/static/advocacy.js",
    "portal/static/advocacy-widget.js",
    "blueprints/referrals/views.py",
    "blueprints/widget/views.py",
]

HOST_APP = '''
"""A minimal host app that uses the installed Advocacy Portal wheel."""

import os

from flask import Flask
from flask_login import LoginManager, UserMixin, login_user
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from portal import AdvocacyPortal


class HostBase(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=HostBase)
login_manager = LoginManager()


class User(UserMixin, db.Model):
    __tablename__ = "host_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)


@login_manager.user_loader
def load_user(user_id):
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


app = Flask(__name__)  # its templates/ folder is the host's own, searched before the plugin's
app.config.update(
    SECRET_KEY="packaging-test-secret",
    SQLALCHEMY_DATABASE_URI="sqlite:///" + os.path.join(os.path.dirname(__file__), "host.sqlite"),
)
db.init_app(app)
login_manager.init_app(app)
portal = AdvocacyPortal(app)


@app.route("/test-login/<int:user_id>")
def test_login(user_id):
    login_user(db.session.get(User, user_id))
    return "logged in"
'''

HOST_CHECK = '''
"""Drive the host app with its test client and print what happened as JSON."""

import json
import sys

import portal
import portal.resources
from host import User, app, db
from host import portal as advocacy

BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)

with app.app_context():
    db.create_all()  # the host's own tables; the plugin's come from `flask advocacy db upgrade`
    user = User(email="advocate@example.com")
    db.session.add(user)
    db.session.commit()
    user_id = user.id
    page_template = app.jinja_env.get_template("advocacy/referrals/page.html").filename
    not_found_template = app.jinja_env.get_template("advocacy/errors/link_not_found.html").filename

client = app.test_client()
login = client.get(f"/test-login/{user_id}")
page = client.get("/advocacy/")

with app.app_context(), app.test_request_context("/"):
    link = advocacy.referral_link(db.session.get(User, user_id), external=False)
    db.session.commit()

visitor = app.test_client()
follow = visitor.get(link, headers={"User-Agent": BROWSER_UA}, environ_base={"REMOTE_ADDR": "203.0.113.7"})
static = visitor.get("/advocacy/static/advocacy.js")
widget = visitor.get("/advocacy/widget/widget.js")
bad_link = visitor.get("/r/nonsense", headers={"User-Agent": BROWSER_UA})

json.dump(
    {
        "portal_file": portal.__file__,
        "templates_dir": str(portal.resources.templates_dir()),
        "migrations_dir": str(portal.resources.migrations_dir()),
        "sys_path": sys.path,
        "page_template": page_template,
        "not_found_template": not_found_template,
        "login_status": login.status_code,
        "page_status": page.status_code,
        "page_text": page.get_data(as_text=True),
        "link": link,
        "follow_status": follow.status_code,
        "follow_location": follow.headers.get("Location"),
        "follow_cookies": follow.headers.getlist("Set-Cookie"),
        "static_status": static.status_code,
        "static_text": static.get_data(as_text=True),
        "widget_status": widget.status_code,
        "widget_text": widget.get_data(as_text=True),
        "bad_link_status": bad_link.status_code,
        "bad_link_text": bad_link.get_data(as_text=True),
    },
    sys.stdout,
)
'''

HOST_OVERRIDE_MARKER = "HOST-OVERRIDE-7f3a: this link is not ours"


def _is_under(path: Path, parent: Path) -> bool:
    try:
        path.resolve().relative_to(parent.resolve())
    except (OSError, ValueError):
        return False
    return True


def _dependency_dirs() -> list[str]:
    """The current interpreter's site-packages directories, minus the checkout and its parents.

    Listed in a ``.pth`` file of the throwaway venv, they come after its own site-packages, so the
    unpacked wheel's ``portal`` wins. Their own ``.pth`` files (the editable install's, which points at
    the checkout) are not processed, because only site directories get that treatment. A dev venv may
    live inside the checkout (CI's ``.venv``): that is fine, it holds no ``portal`` package of its own.
    (Hatchling's editable install does copy the force-included ``templates/`` and ``migrations/`` into
    ``site-packages/portal/``, but without an ``__init__.py`` that folder can only be a namespace
    portion, which never beats the regular package that comes first on ``sys.path``.)
    """
    repo = REPO.resolve()
    candidates = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        candidates.append(site.getusersitepackages())
    dirs = []
    for entry in candidates:
        path = Path(entry)
        if not path.is_dir():
            continue
        resolved = path.resolve()
        if resolved == repo or resolved in repo.parents or (resolved / "portal" / "__init__.py").exists():
            continue
        if str(resolved) not in dirs:
            dirs.append(str(resolved))
    return dirs


def _clean_env(venv: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONSAFEPATH"}
        and not key.startswith(("FLASK_", "ADVOCACY_", "DEMO_", "SQLALCHEMY_"))
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["FLASK_SKIP_DOTENV"] = "1"
    return env


def _run(args, cwd: Path, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} exited {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from this checkout."""
    outdir = tmp_path_factory.mktemp("dist")
    args = [sys.executable, "-m", "build", "--wheel", "--outdir", str(outdir)]
    if importlib.util.find_spec("hatchling") is not None:
        args.append("--no-isolation")  # the backend is here already: build offline
    args.append(str(REPO))
    _run(args, cwd=outdir, env=dict(os.environ), timeout=300)
    wheels = list(outdir.glob("advocacy_portal-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """A fresh virtualenv with the wheel unpacked into it, and an empty project folder to run in."""
    root = tmp_path_factory.mktemp("installed")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=root, env=dict(os.environ))
    python = venv / "bin" / "python"
    env = _clean_env(venv)
    purelib = Path(
        _run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=root, env=env
        ).stdout.strip()
    )
    assert _is_under(purelib, venv), purelib
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(purelib)  # a pure-Python wheel without scripts or data: unpacking installs it
    (purelib / "_packaging_test_deps.pth").write_text("\n".join(_dependency_dirs()) + "\n")

    project = root / "project"
    (project / "templates" / "advocacy" / "errors").mkdir(parents=True)
    (project / "host.py").write_text(textwrap.dedent(HOST_APP))
    (project / "check.py").write_text(textwrap.dedent(HOST_CHECK))
    (project / "templates" / "advocacy" / "errors" / "link_not_found.html").write_text(
        f"<!doctype html><title>Not found</title><p>{HOST_OVERRIDE_MARKER}</p>\n"
    )
    assert not _is_under(project, REPO)
    return {"venv": venv, "python": python, "purelib": purelib, "project": project, "env": env}


def test_wheel_ships_templates_migrations_and_static_files(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    missing = [name for name in REQUIRED_WHEEL_FILES if name not in names]
    assert not missing, f"missing from {wheel.name}: {missing}"
    revisions = [
        name
        for name in names
        if name.startswith("portal/migrations/versions/") and name.endswith(".py")
    ]
    assert revisions, "the wheel ships no migration revisions"
    assert not [name for name in names if name.startswith(("tests/", "templates/", "migrations/"))]


def test_installed_plugin_is_imported_from_the_wheel_not_the_checkout(installed):
    result = _run(
        [
            installed["python"],
            "-c",
            "import json, portal, blueprints, portal.resources as r; print(json.dumps({"
            "'portal': portal.__file__, 'blueprints': blueprints.__file__,"
            "'templates': str(r.templates_dir()), 'migrations': str(r.migrations_dir()),"
            "'static': str(r.static_dir())}))",
        ],
        cwd=installed["project"],
        env=installed["env"],
    )
    where = json.loads(result.stdout)
    for name, path in where.items():
        assert _is_under(Path(path), installed["purelib"]), f"{name} comes from {path}"
        assert not _is_under(Path(path), REPO), f"{name} comes from the checkout: {path}"


def test_host_app_migrates_and_serves_the_plugin_from_the_wheel(installed):
    python, project, env = installed["python"], installed["project"], installed["env"]
    flask = [python, "-m", "flask", "--app", "host", "advocacy", "db"]

    upgraded = _run([*flask, "upgrade"], cwd=project, env=env)
    assert "upgraded from nothing to" in upgraded.stdout, upgraded.stdout
    checked = _run([*flask, "check"], cwd=project, env=env)
    assert "schema matches the models" in checked.stdout, checked.stdout

    result = _run([python, "check.py"], cwd=project, env=env)
    seen = json.loads(result.stdout)

    purelib = installed["purelib"]
    assert _is_under(Path(seen["portal_file"]), purelib), seen["portal_file"]
    # CI's .venv lives inside the checkout, so its site-packages may be listed; the checkout may not.
    assert REPO.resolve() not in [Path(entry).resolve() for entry in seen["sys_path"] if entry]
    assert _is_under(Path(seen["templates_dir"]), purelib / "portal")
    assert _is_under(Path(seen["migrations_dir"]), purelib / "portal")
    assert _is_under(Path(seen["page_template"]), purelib / "portal" / "templates")
    assert _is_under(Path(seen["not_found_template"]), project / "templates")

    assert seen["login_status"] == 200
    assert seen["page_status"] == 200, seen["page_text"][:2000]
    assert "Your referral link" in seen["page_text"]

    assert seen["link"].startswith("/r/"), seen["link"]
    assert seen["follow_status"] == 302
    assert seen["follow_location"] == "/"
    assert any(cookie.startswith("advocacy_ref=") for cookie in seen["follow_cookies"]), seen[
        "follow_cookies"
    ]

    assert seen["static_status"] == 200
    assert seen["static_text"] == (purelib / "portal" / "static" / "advocacy.js").read_text()
    assert seen["widget_status"] == 200 and "AdvocacyWidget" in seen["widget_text"]

    assert seen["bad_link_status"] == 404
    assert HOST_OVERRIDE_MARKER in seen["bad_link_text"]
    assert "This referral link doesn't work" not in seen["bad_link_text"]
