"""A shop integrates the plugin from the README alone: its own models, Flask-Login, CSRFProtect, its own
Checkout call (with ``customer_email`` and its own ``metadata``) and its own pytest suite using
:mod:`advocacy_portal.testing`, built in a temporary folder and run in a subprocess, as a host would.

The shop is ``tests/host_shop/`` (not collected here); its integration is the lines ending in ``# advocacy``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SHOP = Path(__file__).parent / "host_shop"

#: The most Python lines a shop may need to integrate the plugin (issue: "an afternoon").
MAX_INTEGRATION_LINES = 20


def integration_lines() -> list[str]:
    return [line for line in (SHOP / "shop.py").read_text().splitlines() if line.rstrip().endswith("# advocacy")]


def test_the_shop_integrates_in_at_most_twenty_lines_of_python():
    lines = integration_lines()
    assert 0 < len(lines) <= MAX_INTEGRATION_LINES, lines
    assert len(lines) == 11  # the count reported in the README's "Testing your integration"


@pytest.mark.slow
def test_the_shops_own_suite_runs_green_on_the_testing_kit(tmp_path, database_url):
    shop = tmp_path / "shop"
    shutil.copytree(SHOP, shop)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ADVOCACY_", "PYTEST_"))}
    env["PYTHONPATH"] = str(shop)
    if database_url.startswith("postgresql"):
        env["SHOP_DATABASE_URL"] = database_url
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=shop, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout, result.stdout
