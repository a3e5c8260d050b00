"""The README's commands and snippets work as written: every `flask advocacy ...` command it names
exists, the migration snippet imports what it uses, and no command needs a bare `flask` on the PATH
in the quick start."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


@pytest.mark.demo  # the demo has every command a host gets, and seed-demo
def test_every_command_the_readme_names_exists(app):
    group = app.cli.commands["advocacy"]
    named = set(re.findall(r"flask (?:--app wsgi )?advocacy ([a-z-]+(?: [a-z-]+)?)", README))
    assert len(named) > 20
    for words in sorted(named):
        command = group
        for word in words.split():
            if not isinstance(command, click.Group) or word not in command.commands:
                break
            command = command.commands[word]
        assert command is not group, f"README names `flask advocacy {words}`, which does not exist"


def test_the_migration_snippet_imports_what_it_uses():
    snippet = re.search(r"```python\n(from advocacy_portal\.migrate import host_include_name\n.*?)```", README, re.S)
    assert snippet and "advocacy_portal.migrate.host_include_name" not in README
    exec(snippet.group(1).splitlines()[0], {})


def test_the_quick_start_says_which_flask_to_run():
    try_it = README.split("## Try it", 1)[1].split("## ", 1)[0]
    assert ".venv/bin/flask --app wsgi advocacy seed-demo" in try_it
    assert "`. .venv/bin/activate`" in try_it
    demo = README.split("### In the demo", 1)[1]
    assert all(line.startswith(".venv/bin/flask") for line in demo.split("```sh\n", 1)[1].split("```")[0].splitlines())
