"""A finding may say its check did not run: status ``not_checked`` (11 characters). SQLite widens the
column by rebuilding the table, which drops its triggers, so 0004's append-only trigger is written
again (the same SQL, as a literal); PostgreSQL keeps its trigger through ALTER COLUMN."""

from django.db import migrations, models

SQLITE_TRIGGER = (
    "CREATE TRIGGER audits_finding_append_only BEFORE UPDATE ON audits_finding "
    "WHEN NEW.redacted_at IS NULL OR NEW.job_id IS NOT OLD.job_id OR NEW.check_name IS NOT OLD.check_name "
    'OR NEW."column" IS NOT OLD."column" OR NEW.severity IS NOT OLD.severity OR NEW.status IS NOT OLD.status '
    "OR NEW.value IS NOT OLD.value OR NEW.threshold IS NOT OLD.threshold "
    "BEGIN SELECT RAISE(ABORT, 'Keel logs are append-only: only a privacy redaction may rewrite a finding'); END"
)


def sqlite_trigger_again(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS audits_finding_append_only", params=None)
        schema_editor.execute(SQLITE_TRIGGER, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("audits", "0006_roles_as_documented"),
    ]

    # Either way the last step on SQLite rebuilds the table, so the trigger is written after it.
    operations = [
        migrations.RunPython(migrations.RunPython.noop, sqlite_trigger_again),
        migrations.AlterField(
            model_name="finding",
            name="status",
            field=models.CharField(
                choices=[("pass", "Pass"), ("warn", "Warn"), ("fail", "Fail"), ("not_checked", "Not checked")],
                max_length=11,
            ),
        ),
        migrations.RunPython(sqlite_trigger_again, migrations.RunPython.noop),
    ]
