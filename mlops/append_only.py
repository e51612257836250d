"""Append-only logs in the database: one migration operation that installs the trigger refusing
changes to a log table (PostgreSQL: UPDATE and DELETE; SQLite: UPDATE), and removes it on reverse.

Migrations call `append_only_trigger(table)`; the SQL lives here once, so every log refuses changes
with the same message and error code. Migrations that ran keep what they installed, but a fresh
database runs this code: change the SQL only by adding a new operation, never by editing this one.
"""

from django.db import migrations

__all__ = ["append_only_trigger"]

_REFUSE_FUNCTION = (
    "\nCREATE OR REPLACE FUNCTION keel_refuse_change() RETURNS trigger AS $$\nBEGIN\n"
    "  RAISE EXCEPTION 'Keel logs are append-only: % on % is refused', TG_OP, TG_TABLE_NAME\n"
    "    USING ERRCODE = 'restrict_violation';\nEND;\n$$ LANGUAGE plpgsql;\n"
)


def _statements(table: str) -> tuple[dict, dict]:
    install = {
        "postgresql": [
            _REFUSE_FUNCTION,
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION keel_refuse_change()",
        ],
        "sqlite": [
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'Keel logs are append-only: UPDATE on {table} is refused'); END"
        ],
    }
    uninstall = {
        "postgresql": [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"],
        "sqlite": [f"DROP TRIGGER IF EXISTS {table}_append_only"],
    }
    return install, uninstall


def _run(statements: dict):
    def apply(apps, schema_editor):  # params=None: '%' in the plpgsql body is not a placeholder
        for sql in statements.get(schema_editor.connection.vendor, ()):
            schema_editor.execute(sql, params=None)

    return apply


def append_only_trigger(table: str) -> migrations.RunPython:
    """The migration operation that makes `table` append-only (reversible)."""
    install, uninstall = _statements(table)
    return migrations.RunPython(_run(install), _run(uninstall))
