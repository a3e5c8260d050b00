"""``flask advocacy rollups ...`` and ``flask advocacy seed-scale``: the staff figures at scale."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from advocacy_portal import migrate
from advocacy_portal.db import get_engine
from advocacy_portal.services import report_rollups
from advocacy_portal.services import rollups


def add_scale_commands(cli: AppGroup) -> None:
    @cli.group("rollups")
    def rollups_group():
        """The click and report rollups behind the staff pages: fold, rebuild, verify."""

    @rollups_group.command("fold")
    def rollups_fold():
        """Fold the clicks that arrived since the last fold into the rollups (cheap; cron it)."""
        folded = rollups.fold()
        days = report_rollups.fold()
        click.echo(f"Folded {folded} clicks into the rollups and recounted {days} changed days of the report.")

    @rollups_group.command("rebuild")
    def rollups_rebuild():
        """Empty the rollups and count every click again (figures stay exact while it runs)."""
        total = rollups.max_click_id()
        with click.progressbar(length=max(total, 1), label="Rebuilding the click rollups") as bar:
            folded = rollups.rebuild(progress=bar.update)
        click.echo(f"Rebuilt the click rollups from {folded} clicks.")
        with click.progressbar(length=max(report_rollups.days_to_rebuild(), 1),
                               label="Rebuilding the report rollups") as bar:
            days = report_rollups.rebuild(progress=bar.update)
        click.echo(f"Rebuilt the report rollups: {days} days recounted.")

    @rollups_group.command("verify")
    def rollups_verify():
        """Compare the rollups with a recount of the raw clicks; exit 1 when they differ."""
        mismatches = rollups.verify() + report_rollups.verify()
        triggers = migrate.missing_triggers(current_app._get_current_object())
        for trigger in triggers:
            click.echo(f"MISSING TRIGGER {trigger}: changes on this table no longer reach the report; "
                       "run `flask advocacy db repair-triggers`", err=True)
        for mismatch in mismatches:
            click.echo(f"MISMATCH {mismatch.rollup}: {mismatch.rows} rows differ from a recount", err=True)
        if mismatches:
            click.echo("Run `flask advocacy rollups rebuild` to count again.", err=True)
        if mismatches or triggers:
            raise SystemExit(1)
        click.echo("The click and report rollups equal a recount of the raw tables.")

    @cli.command("seed-scale")
    @click.option("--clicks", type=click.IntRange(min=0), default=1_000_000, show_default=True,
                  help="Clicks to write, spread over the period.")
    @click.option("--advocates", type=click.IntRange(min=1), default=5_000, show_default=True)
    @click.option("--referrals", type=click.IntRange(min=0), default=100_000, show_default=True)
    @click.option("--payments", type=click.IntRange(min=0), default=30_000, show_default=True)
    @click.option("--days", type=click.IntRange(min=1, max=3660), default=365, show_default=True)
    @click.option("--clicks-only", is_flag=True, help="Add clicks to data seeded before.")
    def seed_scale(clicks, advocates, referrals, payments, days, clicks_only):
        """Seed a realistic program at scale: advocates, referrals, payments, rewards and their ledger,
        testimonials and clicks; then rebuild the rollups."""
        from advocacy_portal.testing import scale_seed

        engine = get_engine()
        if not clicks_only:
            plan = scale_seed.ScalePlan(advocates=advocates, referrals=referrals, payments=payments, days=days)
            rows = advocates + referrals + payments * 2 + 2 * int(payments * 0.4) + plan.testimonials
            try:
                with click.progressbar(length=rows, label="Seeding the program") as bar:
                    counts = scale_seed.seed_program(plan, engine, progress=bar.update)
            except scale_seed.AlreadySeeded as error:
                raise click.ClickException(f"{error} Use --clicks-only to add clicks.")
            click.echo(", ".join(f"{name}: {count}" for name, count in counts.items()))
        if clicks:
            with click.progressbar(length=clicks, label="Seeding clicks") as bar:
                scale_seed.seed_clicks(clicks, engine, days=days, progress=bar.update)
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("ANALYZE")
        total = rollups.max_click_id(engine)
        with click.progressbar(length=max(total, 1), label="Rebuilding the click rollups") as bar:
            rollups.rebuild(engine, progress=bar.update)
        with click.progressbar(length=max(report_rollups.days_to_rebuild(engine), 1),
                               label="Rebuilding the report rollups") as bar:
            report_rollups.rebuild(engine, progress=bar.update)
        click.echo(f"Seeded {clicks} clicks; the rollups are rebuilt.")
