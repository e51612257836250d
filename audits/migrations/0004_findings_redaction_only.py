"""Findings stay append-only with one exception the law requires: a privacy request may replace a
person's id in a finding's text. The database allows exactly that rewrite, marked by redacted_at,
and nothing else: verdict-bearing columns never change and rows are never deleted (PostgreSQL)."""

from django.db import migrations

FROZEN = ["job_id", "check_name", '"column"', "severity", "status", "value", "threshold"]

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION keel_finding_redaction_only() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'Keel logs are append-only: DELETE on % is refused', TG_TABLE_NAME
      USING ERRCODE = 'restrict_violation';
  END IF;
  IF NEW.redacted_at IS NULL
     OR ({", ".join("NEW." + c for c in FROZEN)}) IS DISTINCT FROM ({", ".join("OLD." + c for c in FROZEN)}) THEN
    RAISE EXCEPTION 'Keel logs are append-only: only a privacy redaction may rewrite a finding'
      USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

SQLITE_CHANGED = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)


def forwards(apps, schema_editor):
    run = lambda sql: schema_editor.execute(sql, params=None)  # noqa: E731  (no % placeholders)
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        run("DROP TRIGGER IF EXISTS audits_finding_append_only ON audits_finding")
        run(PG_FUNCTION)
        run("CREATE TRIGGER audits_finding_append_only BEFORE UPDATE OR DELETE ON audits_finding "
            "FOR EACH ROW EXECUTE FUNCTION keel_finding_redaction_only()")
    elif vendor == "sqlite":
        run("DROP TRIGGER IF EXISTS audits_finding_append_only")
        run("CREATE TRIGGER audits_finding_append_only BEFORE UPDATE ON audits_finding "
            f"WHEN NEW.redacted_at IS NULL OR {SQLITE_CHANGED} "
            "BEGIN SELECT RAISE(ABORT, 'Keel logs are append-only: only a privacy redaction may rewrite a finding'); END")


def backwards(apps, schema_editor):
    """Back to 0002's trigger: every UPDATE refused, DELETE too on PostgreSQL."""
    run = lambda sql: schema_editor.execute(sql, params=None)  # noqa: E731  (no % placeholders)
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        run("DROP TRIGGER IF EXISTS audits_finding_append_only ON audits_finding")
        run("\nCREATE OR REPLACE FUNCTION keel_refuse_change() RETURNS trigger AS $$\nBEGIN\n"
            "  RAISE EXCEPTION 'Keel logs are append-only: % on % is refused', TG_OP, TG_TABLE_NAME\n"
            "    USING ERRCODE = 'restrict_violation';\nEND;\n$$ LANGUAGE plpgsql;\n")
        run("CREATE TRIGGER audits_finding_append_only BEFORE UPDATE OR DELETE ON audits_finding "
            "FOR EACH ROW EXECUTE FUNCTION keel_refuse_change()")
    elif vendor == "sqlite":
        run("DROP TRIGGER IF EXISTS audits_finding_append_only")
        run("CREATE TRIGGER audits_finding_append_only BEFORE UPDATE ON audits_finding "
            "BEGIN SELECT RAISE(ABORT, 'Keel logs are append-only: UPDATE on audits_finding is refused'); END")


class Migration(migrations.Migration):
    dependencies = [("audits", "0003_predictions_schedules_roles")]
    operations = [migrations.RunPython(forwards, backwards)]
