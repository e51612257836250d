"""Make the registry's logs append-only and a registered version's config frozen.

UPDATE is refused on both PostgreSQL and SQLite. DELETE is refused on PostgreSQL only: the SQLite
quick-start database is reset by tests with DELETE, while PostgreSQL resets with TRUNCATE, which row
triggers do not see. The SQL is written out here (not imported from the app) so this migration means
the same forever.
"""

from django.db import migrations

LOG_TABLES = ["registry_runparam", "registry_runmetric", "registry_runtag", "registry_modelversiontag",
              "registry_aliasevent", "registry_artifactcheck"]

PG_REFUSE = ("\nCREATE OR REPLACE FUNCTION keel_refuse_change() RETURNS trigger AS $$\nBEGIN\n"
             "  RAISE EXCEPTION 'Keel logs are append-only: % on % is refused', TG_OP, TG_TABLE_NAME\n"
             "    USING ERRCODE = 'restrict_violation';\nEND;\n$$ LANGUAGE plpgsql;\n")

PG_VERSION_FROZEN = """
CREATE OR REPLACE FUNCTION keel_model_version_frozen() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'Model versions are never deleted' USING ERRCODE = 'restrict_violation';
  END IF;
  IF (NEW.model_id, NEW.version, NEW.run_id, NEW.flavor, NEW.feature_schema, NEW.decision_threshold,
      NEW.train_window_start, NEW.train_window_end, NEW.dataset_uri, NEW.dataset_sha256, NEW.code_commit,
      NEW.hyperparameters, NEW.metrics, NEW.created_by_id, NEW.created_at)
     IS DISTINCT FROM
     (OLD.model_id, OLD.version, OLD.run_id, OLD.flavor, OLD.feature_schema, OLD.decision_threshold,
      OLD.train_window_start, OLD.train_window_end, OLD.dataset_uri, OLD.dataset_sha256, OLD.code_commit,
      OLD.hyperparameters, OLD.metrics, OLD.created_by_id, OLD.created_at) THEN
    RAISE EXCEPTION 'A registered model version''s config cannot change' USING ERRCODE = 'restrict_violation';
  END IF;
  IF OLD.artifact <> '' AND (NEW.artifact, NEW.artifact_sha256, NEW.artifact_size)
       IS DISTINCT FROM (OLD.artifact, OLD.artifact_sha256, OLD.artifact_size) THEN
    RAISE EXCEPTION 'A model version''s artifact is attached once' USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

INSTALL = {
    "postgresql": [PG_REFUSE, PG_VERSION_FROZEN]
    + [f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
       "FOR EACH ROW EXECUTE FUNCTION keel_refuse_change()" for table in LOG_TABLES]
    + ["CREATE TRIGGER registry_modelversion_frozen BEFORE UPDATE OR DELETE ON registry_modelversion "
       "FOR EACH ROW EXECUTE FUNCTION keel_model_version_frozen()"],
    "sqlite": [f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
               f"BEGIN SELECT RAISE(ABORT, 'Keel logs are append-only: UPDATE on {table} is refused'); END"
               for table in LOG_TABLES],
}
UNINSTALL = {
    "postgresql": [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}" for table in LOG_TABLES]
    + ["DROP TRIGGER IF EXISTS registry_modelversion_frozen ON registry_modelversion"],
    "sqlite": [f"DROP TRIGGER IF EXISTS {table}_append_only" for table in LOG_TABLES],
}


def run(statements):
    # params=None: the SQL is sent as is; with params, '%' in the plpgsql bodies would be read as
    # placeholders (PostgreSQL's schema editor merges params client-side) and the migration fails.
    def apply(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, ()):
            schema_editor.execute(sql, params=None)
    return apply


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]
    operations = [migrations.RunPython(run(INSTALL), run(UNINSTALL))]
