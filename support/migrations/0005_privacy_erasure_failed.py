"""A privacy request's erasure may end failed, with the reason: the state, its constraint (a failed
erasure says why and erased nothing), and the guard trigger that freezes the erasure record once it
is written -- now once it is done or failed. SQLite rebuilds the table to change its constraints,
which drops its triggers, so they are installed again after the rebuild.

The SQL is written out here (not imported from the app) so this migration means the same forever."""

from django.db import migrations, models

TABLE = "support_privacyrequest"
FROZEN = ["id", "entity_type", "entity_id", "reference", "note", "entry_id", "requested_by_id", "created_at"]
ONCE = ["erase_state", "erase_counts", "erased_at", "erase_attempts", "erase_error"]
FROZEN_MSG = "A privacy request cannot be edited"
ONCE_MSG = "A privacy request''s erasure is recorded once"


def _pg_function(written: str) -> str:
    new, old = ", ".join(f"NEW.{c}" for c in FROZEN), ", ".join(f"OLD.{c}" for c in FROZEN)
    new_once, old_once = ", ".join(f"NEW.{c}" for c in ONCE), ", ".join(f"OLD.{c}" for c in ONCE)
    return (
        f"CREATE OR REPLACE FUNCTION {TABLE}_guard() RETURNS trigger AS $$\nBEGIN\n"
        "  IF TG_OP = 'DELETE' THEN\n"
        "    RAISE EXCEPTION 'Privacy requests are never deleted' USING ERRCODE = 'restrict_violation';\n"
        "  END IF;\n"
        f"  IF ROW({new}) IS DISTINCT FROM ROW({old}) THEN\n"
        f"    RAISE EXCEPTION '{FROZEN_MSG}' USING ERRCODE = 'restrict_violation';\n"
        "  END IF;\n"
        f"  IF {written} AND ROW({new_once}) IS DISTINCT FROM ROW({old_once}) THEN\n"
        f"    RAISE EXCEPTION '{ONCE_MSG}' USING ERRCODE = 'restrict_violation';\n"
        "  END IF;\n"
        "  RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;"
    )


def _sqlite_triggers(written: str) -> list[str]:
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)
    changed_once = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in ONCE)
    return [
        f"DROP TRIGGER IF EXISTS {TABLE}_frozen",
        f"DROP TRIGGER IF EXISTS {TABLE}_once",
        f"CREATE TRIGGER {TABLE}_frozen BEFORE UPDATE ON {TABLE} WHEN {changed} "
        f"BEGIN SELECT RAISE(ABORT, '{FROZEN_MSG}'); END",
        f"CREATE TRIGGER {TABLE}_once BEFORE UPDATE ON {TABLE} WHEN {written} AND ({changed_once}) "
        f"BEGIN SELECT RAISE(ABORT, '{ONCE_MSG}'); END",
    ]


def _guard(written: str):
    def install(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.execute(_pg_function(written), params=None)
        elif vendor == "sqlite":
            for statement in _sqlite_triggers(written):
                schema_editor.execute(statement, params=None)

    return install


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0004_read_list_records"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="privacyrequest",
            name="support_privacy_state_valid",
        ),
        migrations.RemoveConstraint(
            model_name="privacyrequest",
            name="support_privacy_done_is_recorded",
        ),
        migrations.AlterField(
            model_name="privacyrequest",
            name="erase_error",
            field=models.TextField(
                blank=True, help_text="Why the last attempt failed (pending), or why the erasure gave up (failed)."
            ),
        ),
        migrations.AlterField(
            model_name="privacyrequest",
            name="erase_state",
            field=models.CharField(
                choices=[("pending", "Erasure pending"), ("done", "Data erased"), ("failed", "Erasure failed")],
                default="pending",
                max_length=10,
            ),
        ),
        migrations.AddConstraint(
            model_name="privacyrequest",
            constraint=models.CheckConstraint(
                condition=models.Q(("erase_state__in", ["pending", "done", "failed"])),
                name="support_privacy_state_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="privacyrequest",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("erase_state", "pending"), ("erased_at__isnull", True)),
                    models.Q(("erase_counts__isnull", False), ("erase_state", "done"), ("erased_at__isnull", False)),
                    models.Q(
                        ("erase_state", "failed"),
                        ("erased_at__isnull", True),
                        models.Q(("erase_error", ""), _negated=True),
                    ),
                    _connector="OR",
                ),
                name="support_privacy_done_is_recorded",
            ),
        ),
        migrations.RunPython(
            _guard("OLD.erase_state IN ('done', 'failed')"), _guard("OLD.erase_state = 'done'")
        ),
    ]
