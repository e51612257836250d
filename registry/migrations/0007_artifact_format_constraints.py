"""A version's artifact format is known whenever it has an artifact and is frozen with it
(PostgreSQL); pickle allowances are append-only (UPDATE refused on PostgreSQL and SQLite, DELETE
on PostgreSQL). The SQL is written out here so this migration means the same forever."""

from django.db import migrations, models

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
  IF OLD.artifact <> '' AND (NEW.artifact, NEW.artifact_sha256, NEW.artifact_size, NEW.artifact_format)
       IS DISTINCT FROM (OLD.artifact, OLD.artifact_sha256, OLD.artifact_size, OLD.artifact_format) THEN
    RAISE EXCEPTION 'A model version''s artifact is attached once' USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

INSTALL = {
    "postgresql": [
        PG_VERSION_FROZEN,
        "CREATE TRIGGER registry_pickleallowance_append_only BEFORE UPDATE OR DELETE ON registry_pickleallowance "
        "FOR EACH ROW EXECUTE FUNCTION keel_refuse_change()",
    ],
    "sqlite": ["CREATE TRIGGER registry_pickleallowance_append_only BEFORE UPDATE ON registry_pickleallowance "
               "BEGIN SELECT RAISE(ABORT, 'Keel logs are append-only: UPDATE on registry_pickleallowance is refused'); "
               "END"],
}
UNINSTALL = {
    "postgresql": [
        PG_VERSION_FROZEN.replace(", NEW.artifact_format", "").replace(", OLD.artifact_format", ""),
        "DROP TRIGGER IF EXISTS registry_pickleallowance_append_only ON registry_pickleallowance",
    ],
    "sqlite": ["DROP TRIGGER IF EXISTS registry_pickleallowance_append_only"],
}


def run(statements):
    def apply(apps, schema_editor):  # params=None: '%' in a plpgsql body is not a placeholder
        for sql in statements.get(schema_editor.connection.vendor, ()):
            schema_editor.execute(sql, params=None)
    return apply


class Migration(migrations.Migration):
    dependencies = [("registry", "0006_artifact_formats_and_pickle_allowances")]
    operations = [
        migrations.AddConstraint(
            model_name='modelversion',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('artifact', ''), ('artifact_format', '')), models.Q(models.Q(('artifact', ''), _negated=True), ('artifact_format__in', ['skops', 'pickle'])), _connector='OR'), name='registry_version_artifact_format_known'),
        ),
        migrations.RunPython(run(INSTALL), run(UNINSTALL)),
    ]
