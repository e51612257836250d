"""Nothing in support is deleted or rewritten: entries end (lifted once, or expired), history stays.

Database triggers keep that true whatever writes the row (services, admin, a shell):
- a list entry's content is frozen; only its lift (when, by whom, why, at which change) may be
  written, once;
- the surfaces an entry names are never changed;
- a privacy request's facts are frozen; its erasure record may be written until it is done;
- a bulk upload's preview is frozen; it is marked applied once.
UPDATEs breaking these are refused on PostgreSQL and SQLite. DELETE is refused on PostgreSQL only,
as in the registry: the SQLite quick-start database is reset by tests with DELETE, while PostgreSQL
resets with TRUNCATE, which row triggers do not see.

The SQL is written out here (not imported from the app) so this migration means the same forever.
"""

from django.db import migrations

GUARDS = [
    # (table, frozen columns, columns written once, "already written" condition on OLD, messages)
    ("support_listentry",
     ["id", "kind", "entity_type", "entity_id", "reason", "note", "all_surfaces", "scope_key", "weight",
      "expires_at", "created_by_id", "created_at", "created_seq", "bulk_id"],
     ["lifted_at", "lifted_by_id", "lift_reason", "lifted_seq"],
     "OLD.lifted_at IS NOT NULL",
     "List entries are never deleted: lift them or let them expire",
     "A list entry cannot be edited: lift it and add a new one",
     "A list entry is lifted once"),
    ("support_entrysurface",
     ["id", "entry_id", "surface_id"], [], None,
     "An entry's surfaces are never removed",
     "An entry's surfaces never change", ""),
    ("support_privacyrequest",
     ["id", "entity_type", "entity_id", "reference", "note", "entry_id", "requested_by_id", "created_at"],
     ["erase_state", "erase_counts", "erased_at", "erase_attempts", "erase_error"],
     "OLD.erase_state = 'done'",
     "Privacy requests are never deleted",
     "A privacy request cannot be edited",
     "A privacy request's erasure is recorded once"),
    ("support_bulkupload",
     ["id", "kind", "reason", "note", "all_surfaces", "surface_names", "weight", "expires_at",
      "default_entity_type", "filename", "sha256", "size_bytes", "rows", "counts", "created_by_id", "created_at",
      "preview_expires_at"],
     ["applied_at", "applied_by_id", "applied_count"],
     "OLD.applied_at IS NOT NULL",
     "Bulk uploads are never deleted",
     "A bulk upload's preview cannot be edited",
     "A bulk upload is applied once"),
]


def _quoted(message: str) -> str:
    return message.replace("'", "''")


def _pg_function(table, frozen, once, done, delete_msg, frozen_msg, once_msg) -> str:
    delete_msg, frozen_msg, once_msg = _quoted(delete_msg), _quoted(frozen_msg), _quoted(once_msg)
    new = ", ".join(f"NEW.{c}" for c in frozen)
    old = ", ".join(f"OLD.{c}" for c in frozen)
    # jsonb columns compare fine with IS DISTINCT FROM; json columns would not, Django uses jsonb.
    body = [
        "IF TG_OP = 'DELETE' THEN",
        f"  RAISE EXCEPTION '{delete_msg}' USING ERRCODE = 'restrict_violation';",
        "END IF;",
        f"IF ROW({new}) IS DISTINCT FROM ROW({old}) THEN",
        f"  RAISE EXCEPTION '{frozen_msg}' USING ERRCODE = 'restrict_violation';",
        "END IF;",
    ]
    if once:
        new_once = ", ".join(f"NEW.{c}" for c in once)
        old_once = ", ".join(f"OLD.{c}" for c in once)
        body += [
            f"IF {done} AND ROW({new_once}) IS DISTINCT FROM ROW({old_once}) THEN",
            f"  RAISE EXCEPTION '{once_msg}' USING ERRCODE = 'restrict_violation';",
            "END IF;",
        ]
    body.append("RETURN NEW;")
    return (f"CREATE OR REPLACE FUNCTION {table}_guard() RETURNS trigger AS $$\nBEGIN\n  "
            + "\n  ".join(body) + "\nEND;\n$$ LANGUAGE plpgsql;")


def _sqlite_trigger(table, frozen, once, done, delete_msg, frozen_msg, once_msg) -> list[str]:
    frozen_msg, once_msg = _quoted(frozen_msg), _quoted(once_msg)
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in frozen)
    statements = [f"CREATE TRIGGER {table}_frozen BEFORE UPDATE ON {table} WHEN {changed} "
                  f"BEGIN SELECT RAISE(ABORT, '{frozen_msg}'); END"]
    if once:
        changed_once = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in once)
        statements.append(f"CREATE TRIGGER {table}_once BEFORE UPDATE ON {table} WHEN {done} AND ({changed_once}) "
                          f"BEGIN SELECT RAISE(ABORT, '{once_msg}'); END")
    return statements


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor

    def run(sql):
        schema_editor.execute(sql, params=None)  # as is: '%' must not be read as a placeholder

    for guard in GUARDS:
        table = guard[0]
        if vendor == "postgresql":
            run(_pg_function(*guard))
            run(f"CREATE TRIGGER {table}_guard BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_guard()")
        elif vendor == "sqlite":
            for statement in _sqlite_trigger(*guard):
                run(statement)


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for guard in GUARDS:
        table = guard[0]
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_guard ON {table}")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {table}_guard()")
        elif vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_frozen")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_once")


def create_list_state(apps, schema_editor):
    apps.get_model("support", "ListState").objects.get_or_create(pk=1, defaults={"seq": 0})


class Migration(migrations.Migration):
    dependencies = [("support", "0001_initial")]
    operations = [
        migrations.RunPython(install, uninstall),
        migrations.RunPython(create_list_state, migrations.RunPython.noop),
    ]
