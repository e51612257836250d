"""Promotion history is append-only, like the other registry logs (UPDATE refused on PostgreSQL and
SQLite, DELETE on PostgreSQL). The SQL is written out here so this migration means the same forever."""

from django.db import migrations

INSTALL = {
    "postgresql": [
        "\nCREATE OR REPLACE FUNCTION keel_refuse_change() RETURNS trigger AS $$\nBEGIN\n"
        "  RAISE EXCEPTION 'Keel logs are append-only: % on % is refused', TG_OP, TG_TABLE_NAME\n"
        "    USING ERRCODE = 'restrict_violation';\nEND;\n$$ LANGUAGE plpgsql;\n",
        "CREATE TRIGGER registry_promotionevent_append_only BEFORE UPDATE OR DELETE ON registry_promotionevent "
        "FOR EACH ROW EXECUTE FUNCTION keel_refuse_change()",
    ],
    "sqlite": ["CREATE TRIGGER registry_promotionevent_append_only BEFORE UPDATE ON registry_promotionevent "
               "BEGIN SELECT RAISE(ABORT, 'Keel logs are append-only: UPDATE on registry_promotionevent is refused'); "
               "END"],
}
UNINSTALL = {
    "postgresql": ["DROP TRIGGER IF EXISTS registry_promotionevent_append_only ON registry_promotionevent"],
    "sqlite": ["DROP TRIGGER IF EXISTS registry_promotionevent_append_only"],
}


def run(statements):
    def apply(apps, schema_editor):  # params=None: '%' in the plpgsql body is not a placeholder
        for sql in statements.get(schema_editor.connection.vendor, ()):
            schema_editor.execute(sql, params=None)
    return apply


class Migration(migrations.Migration):
    dependencies = [("registry", "0003_promotion_governance")]
    operations = [migrations.RunPython(run(INSTALL), run(UNINSTALL))]
