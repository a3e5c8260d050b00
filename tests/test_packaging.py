"""Installing the plugin never breaks the host app: one import package, ``advocacy_portal``, nothing else.

A realistic shop is written outside the checkout: an app factory in its own top-level ``portal``
package, its own ``blueprints/`` (``auth.py``, ``store.py`` and an ``admin.py`` of its own), a top-level
``models.py`` and ``wsgi.py``, its own ``templates/`` (one overriding a plugin page), ``migrations/``
and ``tests/``. Then, in throwaway virtualenvs whose only link to the dev environment is a ``.pth``
file listing its site-packages (for Flask, SQLAlchemy, ...; never the checkout):

- **wheel**: the plugin's wheel and the shop's own wheel are installed side by side with pip; the
  plugin adds exactly ``advocacy_portal`` and its dist-info to site-packages, shares no file with the
  shop, and both apps' routes answer; uninstalling the plugin leaves every file of the shop as it was.
- **editable**: ``pip install -e`` of the checkout adds ``advocacy_portal`` (through setuptools' finder)
  and nothing of the checkout's other top-level names: ``portal``, ``blueprints``, ``wsgi`` and
  ``tests`` are not importable, and the shop run from its own folder gets its own modules.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
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
    "advocacy_portal/__init__.py",
    "advocacy_portal/templates/advocacy/base.html",
    "advocacy_portal/templates/advocacy/referrals/page.html",
    "advocacy_portal/migrations/env.py",
    "advocacy_portal/migrations/script.py.mako",
    "advocacy_portal/static/advocacy.js",
    "advocacy_portal/static/advocacy-widget.js",
    "advocacy_portal/blueprints/admin/views.py",
    "advocacy_portal/blueprints/referrals/views.py",
    "advocacy_portal/blueprints/widget/views.py",
]

HOST_OVERRIDE_MARKER = "HOST-OVERRIDE-7f3a: this link is not ours"

#: The shop, file by file. Its package names are the generic ones the plugin's repository also uses.
SHOP_FILES = {
    "pyproject.toml": '''
        [build-system]
        requires = ["setuptools>=77"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "demo-shop"
        version = "1.0"

        [tool.setuptools]
        packages = ["portal", "blueprints", "tests"]
        py-modules = ["models", "wsgi"]
        include-package-data = false

        [tool.setuptools.package-data]
        portal = ["templates/*/*.html", "templates/*/*/*.html", "migrations/*"]
        ''',
    "models.py": '''
        """The shop's models."""

        from flask_login import UserMixin
        from flask_sqlalchemy import SQLAlchemy
        from sqlalchemy import String
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


        class ShopBase(DeclarativeBase):
            pass


        db = SQLAlchemy(model_class=ShopBase)


        class User(UserMixin, db.Model):
            __tablename__ = "shop_users"

            id: Mapped[int] = mapped_column(primary_key=True)
            email: Mapped[str] = mapped_column(String(320), unique=True)
        ''',
    "portal/__init__.py": '''
        """The shop's own customer portal: its app factory."""

        import os

        from flask import Flask
        from flask_login import LoginManager

        from advocacy_portal import AdvocacyPortal
        from models import User, db

        SHOP_PORTAL = "the shop's portal package"
        login_manager = LoginManager()
        advocacy = AdvocacyPortal()


        @login_manager.user_loader
        def load_user(user_id):
            return db.session.get(User, int(user_id)) if user_id.isdigit() else None


        def create_app():
            app = Flask(__name__)  # templates/ beside this file: the shop's, searched before the plugin's
            app.config.update(
                SECRET_KEY="packaging-test-secret",
                SQLALCHEMY_DATABASE_URI=os.environ["SHOP_DATABASE_URI"],
            )
            db.init_app(app)
            login_manager.init_app(app)
            from blueprints.admin import bp as admin_bp
            from blueprints.auth import bp as auth_bp
            from blueprints.store import bp as store_bp

            app.register_blueprint(auth_bp)
            app.register_blueprint(store_bp)
            app.register_blueprint(admin_bp, url_prefix="/shop-admin")
            advocacy.init_app(app)
            return app
        ''',
    "portal/templates/store/home.html": "<!doctype html><title>Shop</title><p>Welcome to the shop</p>\n",
    "portal/templates/advocacy/errors/link_not_found.html": (
        f"<!doctype html><title>Not found</title><p>{HOST_OVERRIDE_MARKER}</p>\n"
    ),
    "portal/migrations/README": "The shop's own Alembic tree (never the plugin's).\n",
    "blueprints/__init__.py": '"""The shop\'s blueprints."""\n\nSHOP_BLUEPRINTS = True\n',
    "blueprints/auth.py": '''
        from flask import Blueprint
        from flask_login import login_user

        from models import User, db

        bp = Blueprint("auth", __name__)


        @bp.route("/test-login/<int:user_id>")
        def test_login(user_id):
            login_user(db.session.get(User, user_id))
            return "logged in"
        ''',
    "blueprints/store.py": '''
        from flask import Blueprint, render_template

        bp = Blueprint("store", __name__)


        @bp.route("/")
        def home():
            return render_template("store/home.html")
        ''',
    "blueprints/admin.py": '''
        from flask import Blueprint

        bp = Blueprint("shop_admin", __name__)


        @bp.route("/")
        def index():
            return "the shop's own admin"
        ''',
    "wsgi.py": '"""The shop\'s WSGI entry point."""\n\nfrom portal import create_app\n\napp = create_app()\n',
    "tests/__init__.py": '"""The shop\'s tests."""\n\nSHOP_TESTS = True\n',
    "tests/test_home.py": "def test_home():\n    assert True\n",
}

#: Run from a folder of the test's choice: drives the shop with its test client and prints JSON.
CHECK = '''
import importlib.util
import json
import sys

BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"

import importlib

import advocacy_portal
import advocacy_portal.resources

# the shop's own top-level modules, named like the folders of the plugin's repository
blueprints, models, portal, tests, wsgi = (
    importlib.import_module(name) for name in ("blueprints", "models", "portal", "tests", "wsgi")
)

app = wsgi.app
with app.app_context():
    models.db.create_all()  # the shop's tables; the plugin's come from `flask advocacy db upgrade`
    user = models.User(email="advocate@example.com")
    models.db.session.add(user)
    models.db.session.commit()
    user_id = user.id
    page_template = app.jinja_env.get_template("advocacy/referrals/page.html").filename
    not_found_template = app.jinja_env.get_template("advocacy/errors/link_not_found.html").filename

client = app.test_client()
login = client.get(f"/test-login/{user_id}")
page = client.get("/advocacy/")
with app.test_request_context("/"):
    link = portal.advocacy.referral_link(models.db.session.get(models.User, user_id), external=False)

visitor = app.test_client()
follow = visitor.get(link, headers={"User-Agent": BROWSER_UA}, environ_base={"REMOTE_ADDR": "203.0.113.7"})
bad_link = visitor.get("/r/nonsense", headers={"User-Agent": BROWSER_UA})
endpoints = sorted(rule.endpoint for rule in app.url_map.iter_rules())

json.dump(
    {
        "modules": {
            name: getattr(sys.modules[name], "__file__", None)
            for name in ("advocacy_portal", "advocacy_portal.blueprints.admin", "blueprints", "models", "portal", "tests", "wsgi")
        },
        "shop_markers": [portal.SHOP_PORTAL, blueprints.SHOP_BLUEPRINTS, tests.SHOP_TESTS],
        "templates_dir": str(advocacy_portal.resources.templates_dir()),
        "migrations_dir": str(advocacy_portal.resources.migrations_dir()),
        "static_dir": str(advocacy_portal.resources.static_dir()),
        "sys_path": sys.path,
        "page_template": page_template,
        "not_found_template": not_found_template,
        "endpoints": endpoints,
        "answers": {
            "shop home": client.get("/").get_data(as_text=True),
            "shop admin": client.get("/shop-admin/").get_data(as_text=True),
            "login": login.status_code,
            "referral page": [page.status_code, "Your referral link" in page.get_data(as_text=True)],
            "plugin admin (customer)": client.get("/advocacy/admin/").status_code,
            "static": visitor.get("/advocacy/static/advocacy.js").get_data(as_text=True),
            "widget": [visitor.get("/advocacy/widget/widget.js").status_code],
            "follow": [follow.status_code, follow.headers.get("Location"), follow.headers.getlist("Set-Cookie")],
            "bad link": [bad_link.status_code, bad_link.get_data(as_text=True)],
        },
    },
    sys.stdout,
)
'''

#: Run from an empty folder: which of the checkout's top-level names can be imported.
IMPORTABLE = '''
import importlib.util, json, sys
names = ["advocacy_portal", "portal", "blueprints", "wsgi", "tests", "bench", "templates", "migrations"]
print(json.dumps({name: importlib.util.find_spec(name) is not None for name in names}))
'''


def _is_under(path: Path, parent: Path) -> bool:
    try:
        path.resolve().relative_to(parent.resolve())
    except (OSError, ValueError):
        return False
    return True


def _dependency_dirs() -> list[str]:
    """The dev interpreter's site-packages (for Flask, SQLAlchemy, setuptools, ...), never the checkout.

    Listed in a ``.pth`` file of a throwaway venv they come after its own site-packages. Their own
    ``.pth`` files (the dev editable install's finder) are not processed: only site directories get
    that treatment, so the checkout stays unreachable.
    """
    repo = REPO.resolve()
    candidates = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        candidates.append(site.getusersitepackages())
    dirs = []
    for entry in candidates:
        path = Path(entry)
        if path.is_dir() and path.resolve() not in (repo, *repo.parents) and str(path.resolve()) not in dirs:
            dirs.append(str(path.resolve()))
    return dirs


def _run(args, cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} exited {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )
    return result


class Venv:
    """A throwaway virtualenv without pip of its own: the dev pip installs into it (``pip --python``)."""

    def __init__(self, root: Path, database: Path):
        self.root = root
        self.path = root / "venv"
        _run([sys.executable, "-m", "venv", "--without-pip", self.path], cwd=root, env=dict(os.environ))
        self.python = self.path / "bin" / "python"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONSAFEPATH"}
            and not key.startswith(("FLASK_", "ADVOCACY_", "DEMO_", "SQLALCHEMY_", "PIP_"))
        }
        self.env.update(
            PATH=f"{self.path / 'bin'}{os.pathsep}{self.env.get('PATH', '')}",
            VIRTUAL_ENV=str(self.path),
            PYTHONNOUSERSITE="1",
            PYTHONDONTWRITEBYTECODE="1",
            FLASK_SKIP_DOTENV="1",
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            SHOP_DATABASE_URI=f"sqlite:///{database}",
        )
        self.purelib = Path(
            self.run(["-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=root).stdout.strip()
        )
        assert _is_under(self.purelib, self.path), self.purelib
        (self.purelib / "_packaging_test_deps.pth").write_text("\n".join(_dependency_dirs()) + "\n")

    def run(self, args, cwd: Path) -> subprocess.CompletedProcess:
        return _run([self.python, *args], cwd=cwd, env=self.env)

    def pip(self, *args, cwd: Path) -> subprocess.CompletedProcess:
        return _run(
            [sys.executable, "-m", "pip", "--python", self.python, *args], cwd=cwd, env=self.env
        )

    def top_level(self) -> set[str]:
        return {path.name for path in self.purelib.iterdir() if path.name != "__pycache__"}


def _write_shop(folder: Path) -> Path:
    for name, text in SHOP_FILES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    assert not _is_under(folder, REPO)
    return folder


def _record(purelib: Path, distribution: str) -> list[str]:
    [dist_info] = purelib.glob(f"{distribution}-*.dist-info")
    return [line.split(",")[0] for line in (dist_info / "RECORD").read_text().splitlines() if line]


def _digests(root: Path, names: list[str]) -> dict[str, str]:
    return {name: hashlib.sha256((root / name).read_bytes()).hexdigest() for name in names if (root / name).is_file()}


def _check_shop(venv: Venv, cwd: Path, plugin_root: Path, shop_root: Path) -> dict:
    """Migrate the plugin's tables through the CLI and drive both apps; assert what a shop owner sees."""
    flask = ["-m", "flask", "--app", "wsgi", "advocacy", "db"]
    assert "upgraded from nothing to" in venv.run([*flask, "upgrade"], cwd=cwd).stdout
    assert "schema matches the models" in venv.run([*flask, "check"], cwd=cwd).stdout
    (cwd / "check.py").write_text(CHECK)
    seen = json.loads(venv.run(["check.py"], cwd=cwd).stdout)

    modules = seen["modules"]
    assert _is_under(Path(modules["advocacy_portal"]), plugin_root), modules
    assert _is_under(Path(modules["advocacy_portal.blueprints.admin"]), plugin_root), modules
    for name in ("blueprints", "models", "portal", "tests", "wsgi"):
        assert _is_under(Path(modules[name]), shop_root), (name, modules[name])
    assert seen["shop_markers"] == ["the shop's portal package", True, True]
    for folder in ("templates_dir", "migrations_dir", "static_dir"):
        assert _is_under(Path(seen[folder]), plugin_root), seen[folder]
    assert _is_under(Path(seen["page_template"]), plugin_root)
    assert _is_under(Path(seen["not_found_template"]), shop_root)
    assert REPO.resolve() not in [Path(entry).resolve() for entry in seen["sys_path"] if entry]

    endpoints = seen["endpoints"]
    assert {"auth.test_login", "store.home", "shop_admin.index"} <= set(endpoints)
    plugin_admin = [name for name in endpoints if name.startswith("advocacy_admin.")]
    assert len(plugin_admin) >= 5, plugin_admin  # the shop's blueprints/admin.py replaced nothing

    answers = seen["answers"]
    assert "Welcome to the shop" in answers["shop home"]
    assert answers["shop admin"] == "the shop's own admin"
    assert answers["login"] == 200
    assert answers["referral page"] == [200, True]
    assert answers["plugin admin (customer)"] == 403  # staff only, and it is the plugin's
    assert answers["static"] == (Path(seen["static_dir"]) / "advocacy.js").read_text()
    assert answers["widget"] == [200]
    status, location, cookies = answers["follow"]
    assert (status, location) == (302, "/")
    assert any(cookie.startswith("advocacy_ref=") for cookie in cookies), cookies
    assert answers["bad link"][0] == 404 and HOST_OVERRIDE_MARKER in answers["bad link"][1]
    return seen


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from this checkout (offline: the dev environment has the backend).

    setuptools builds in the source tree (``build/``, ``*.egg-info``), so it builds a copy: parallel
    test workers and the developer's own editable install never share those folders.
    """
    outdir = tmp_path_factory.mktemp("dist")
    source = tmp_path_factory.mktemp("source") / "advocacy-portal"
    shutil.copytree(
        REPO, source,
        ignore=shutil.ignore_patterns(".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", "instance"),
    )
    _run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", outdir, source],
        cwd=outdir, env=dict(os.environ),
    )
    wheels = list(outdir.glob("advocacy_portal-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_holds_one_package_with_templates_migrations_and_static_files(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    missing = [name for name in REQUIRED_WHEEL_FILES if name not in names]
    assert not missing, f"missing from {wheel.name}: {missing}"
    assert [n for n in names if n.startswith("advocacy_portal/migrations/versions/2") and n.endswith(".py")]
    assert {name.split("/")[0] for name in names} == {"advocacy_portal", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}
    # every module and template of the checkout is in the wheel, mapped into the one package
    expected = {
        f"advocacy_portal/{path.relative_to(REPO / 'portal')}" for path in (REPO / "portal").rglob("*.py")
    } | {
        f"advocacy_portal/blueprints/{path.relative_to(REPO / 'blueprints')}" for path in (REPO / "blueprints").rglob("*.py")
    } | {
        f"advocacy_portal/templates/{path.relative_to(REPO / 'templates')}" for path in (REPO / "templates").rglob("*.html")
    }
    assert not {name for name in expected if "__pycache__" not in name} - names


def test_wheel_installs_beside_a_shop_with_the_same_generic_names(wheel, tmp_path):
    venv = Venv(tmp_path, tmp_path / "shop.sqlite")
    shop = _write_shop(tmp_path / "shop-src")
    shop_wheels = tmp_path / "shop-dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", shop_wheels, shop],
        cwd=tmp_path, env=venv.env,
    )
    [shop_wheel] = shop_wheels.glob("demo_shop-*.whl")
    venv.pip("install", "--no-deps", "--no-index", shop_wheel, cwd=tmp_path)
    before = venv.top_level()
    shop_files = _record(venv.purelib, "demo_shop")
    shop_digests = _digests(venv.purelib, shop_files)

    venv.pip("install", "--no-deps", "--no-index", wheel, cwd=tmp_path)
    added = venv.top_level() - before
    assert {name for name in added if not name.endswith(".dist-info")} == {"advocacy_portal"}, added
    assert len(added) == 2, added
    plugin_files = _record(venv.purelib, "advocacy_portal")
    assert {name.split("/")[0] for name in plugin_files} == added
    assert not set(plugin_files) & set(shop_files)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _check_shop(venv, elsewhere, venv.purelib / "advocacy_portal", venv.purelib)

    venv.pip("uninstall", "--yes", "advocacy-portal", cwd=tmp_path)
    assert venv.top_level() == before
    assert _digests(venv.purelib, shop_files) == shop_digests
    found = json.loads(venv.run(["-c", IMPORTABLE], cwd=elsewhere).stdout)
    assert found["portal"] and found["blueprints"] and found["wsgi"] and not found["advocacy_portal"]


def test_editable_install_adds_only_advocacy_portal(tmp_path):
    venv = Venv(tmp_path, tmp_path / "shop.sqlite")
    before = venv.top_level()
    venv.pip("install", "--no-deps", "--no-build-isolation", "--editable", REPO, cwd=tmp_path)
    added = venv.top_level() - before
    # setuptools' editable hooks: a .pth that installs a finder mapping advocacy_portal -> portal/ etc.
    hooks = {name for name in added if name.startswith("__editable__")}
    assert {name for name in added - hooks if not name.endswith(".dist-info")} == set(), added
    assert len(added - hooks) == 1, added
    for pth in venv.purelib.glob("__editable__*.pth"):
        assert str(REPO) not in pth.read_text().splitlines(), "the checkout itself is on sys.path"

    empty = tmp_path / "empty"
    empty.mkdir()
    found = json.loads(venv.run(["-c", IMPORTABLE], cwd=empty).stdout)
    assert found == {
        "advocacy_portal": True, "portal": False, "blueprints": False, "wsgi": False, "tests": False,
        "bench": False, "templates": False, "migrations": False,
    }

    shop = _write_shop(tmp_path / "shop")
    _check_shop(venv, shop, REPO, shop)

    venv.pip("uninstall", "--yes", "advocacy-portal", cwd=tmp_path)
    assert venv.top_level() == before
    assert (shop / "blueprints" / "__init__.py").read_text().endswith("SHOP_BLUEPRINTS = True\n")
