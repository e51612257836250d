"""Audit findings are written once, when an audit completes; the database refuses rewrites (UPDATE on
PostgreSQL and SQLite, DELETE on PostgreSQL). The SQL is written out here so this migration means the
same forever."""

from django.db import migrations

REFUSE_CHANGE = (
    "\nCREATE OR REPLACE FUNCTION keel_refuse_change() RETURNS trigger AS $$\nBEGIN\n"
    "  RAISE EXCEPTION 'Keel logs are append-only: % on % is refused', TG_OP, TG_TABLE_NAME\n"
    "    USING ERRCODE = 'restrict_violation';\nEND;\n$$ LANGUAGE plpgsql;\n")
FORWARDS = {
    "postgresql": [REFUSE_CHANGE, "CREATE TRIGGER audits_finding_append_only BEFORE UPDATE OR DELETE ON audits_finding "
                                  "FOR EACH ROW EXECUTE FUNCTION keel_refuse_change()"],
    "sqlite": ["CREATE TRIGGER audits_finding_append_only BEFORE UPDATE ON audits_finding "
               "BEGIN SELECT RAISE(ABORT, 'Keel logs are append-only: UPDATE on audits_finding is refused'); END"],
}
BACKWARDS = {
    "postgresql": ["DROP TRIGGER IF EXISTS audits_finding_append_only ON audits_finding"],
    "sqlite": ["DROP TRIGGER IF EXISTS audits_finding_append_only"],
}


def executor(statements):
    def execute(apps, schema_editor):  # sent as is: '%' in the plpgsql body is no placeholder
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql, params=None)
    return execute


class Migration(migrations.Migration):
    dependencies = [("audits", "0001_initial"), ("registry", "0004_promotion_history_append_only")]
    operations = [migrations.RunPython(executor(FORWARDS), executor(BACKWARDS))]
