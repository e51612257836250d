"""Artifacts get a format (skops or pickle) and models a reviewer's record of allowing pickles.

Stored artifacts are sniffed here (a zip holding skops' schema.json is skops, anything else a
pickle); a model that already holds pickle artifacts is recorded as allowing them, in its owner's
name, so upgrading does not stop its versions loading; reviewers see the row and may revoke it.
Allowances are append-only, and a version's format is frozen with its artifact (PostgreSQL). The
SQL and the sniffing are written out here so this migration means the same forever.
"""

import io
import zipfile

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

UPGRADE_REASON = "Pickle artifacts were uploaded before Keel checked artifact formats (registry migration 0006)."


def _format(field) -> str:
    try:
        with field.open("rb") as handle:
            head = handle.read(4)
            if head != b"PK\x03\x04":
                return "pickle"
            handle.seek(0)
            with zipfile.ZipFile(io.BytesIO(handle.read())) as archive:
                return "skops" if "schema.json" in archive.namelist() else "pickle"
    except (OSError, zipfile.BadZipFile, ValueError):
        return "pickle"


def sniff_stored_artifacts(apps, schema_editor):
    ModelVersion = apps.get_model("registry", "ModelVersion")
    PickleAllowance = apps.get_model("registry", "PickleAllowance")
    pickled_models = {}
    for version in ModelVersion.objects.exclude(artifact="").select_related("model").iterator():
        fmt = _format(version.artifact)
        ModelVersion.objects.filter(pk=version.pk).update(artifact_format=fmt)
        if fmt == "pickle":
            pickled_models[version.model_id] = version.model.owner_id
    for model_id, owner_id in pickled_models.items():
        PickleAllowance.objects.create(model_id=model_id, allowed=True, reason=UPGRADE_REASON, actor_id=owner_id)



class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0005_alter_notificationdelivery_event'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='PickleAllowance',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('allowed', models.BooleanField()),
                ('reason', models.TextField()),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
            ],
            options={
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.AlterModelOptions(
            name='registeredmodel',
            options={'ordering': ['name'], 'permissions': [('register_models', 'Can register models, versions and training runs'), ('move_alias', 'Can move model aliases'), ('allow_pickle_artifacts', 'Can allow or revoke pickle artifacts for a model')]},
        ),
        migrations.AddField(
            model_name='modelversion',
            name='artifact_format',
            field=models.CharField(blank=True, choices=[('skops', 'skops'), ('pickle', 'pickle (joblib)')], help_text='Read from the bytes at upload.', max_length=10),
        ),
        migrations.AddField(
            model_name='pickleallowance',
            name='actor',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='pickleallowance',
            name='model',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='pickle_allowances', to='registry.registeredmodel'),
        ),
        migrations.AddConstraint(
            model_name='pickleallowance',
            constraint=models.CheckConstraint(condition=models.Q(('reason', ''), _negated=True), name='registry_pickle_allowance_has_reason'),
        ),
        migrations.RunPython(sniff_stored_artifacts, migrations.RunPython.noop),
    ]
