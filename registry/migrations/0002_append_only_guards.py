"""Make the registry's logs append-only and a registered version's config frozen (see db_guards)."""

from django.db import migrations

from registry import db_guards


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]
    operations = [migrations.RunPython(db_guards.install, db_guards.uninstall)]
