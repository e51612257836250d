"""Promotion history is append-only, like the other registry logs (see db_guards)."""

from functools import partial

from django.db import migrations

from registry import db_guards

TABLES = ["registry_promotionevent"]


class Migration(migrations.Migration):
    dependencies = [("registry", "0003_promotion_governance")]
    operations = [
        migrations.RunPython(partial(db_guards.install, tables=TABLES, version_frozen=False),
                             partial(db_guards.uninstall, tables=TABLES, version_frozen=False)),
    ]
