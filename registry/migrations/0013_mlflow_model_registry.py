"""MLflow's registry in Keel: a version's source URI, and registered-model tags (append-only, as every tag)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from mlops.append_only import append_only_trigger


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0012_mlflow_run_lifecycle'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='modelversion',
            name='source',
            field=models.CharField(blank=True, help_text="Where the model's files are, as MLflow names them (runs:/…, mlflow-artifacts:/…); Keel checks only the bytes of an attached artifact.", max_length=500),
        ),
        migrations.CreateModel(
            name='RegisteredModelTag',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(max_length=250)),
                ('value', models.TextField(blank=True)),
                ('set_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('removed', models.BooleanField(blank=True, help_text="Set on a row that removes the tag (MLflow's delete-tag); earlier rows stay.", null=True)),
                ('model', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='tags', to='registry.registeredmodel')),
                ('set_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['key', '-id'],
                'abstract': False,
                'indexes': [models.Index(fields=['model', 'key'], name='registry_modeltag_key')],
            },
        ),
        append_only_trigger("registry_registeredmodeltag"),
    ]
