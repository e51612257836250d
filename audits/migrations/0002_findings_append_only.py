"""Audit findings are written once, when an audit completes; the database refuses rewrites."""

from functools import partial

from django.db import migrations

from registry import db_guards

TABLES = ["audits_finding"]


class Migration(migrations.Migration):
    dependencies = [("audits", "0001_initial"), ("registry", "0004_promotion_history_append_only")]
    operations = [
        migrations.RunPython(partial(db_guards.install, tables=TABLES, version_frozen=False),
                             partial(db_guards.uninstall, tables=TABLES, version_frozen=False)),
    ]
