"""Schedules keep a history: an append-only event per creation, edit, pause, resume and deletion
(UPDATE refused on PostgreSQL and SQLite, DELETE on PostgreSQL, as for the other Keel logs), and a
deleted schedule stays as a row with `deleted_at` so its history can be read. The trigger is
mlops.append_only's."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from mlops.append_only import append_only_trigger


class Migration(migrations.Migration):

    dependencies = [
        ('audits', '0008_alert_feeds'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='auditschedule',
            name='deleted_at',
            field=models.DateTimeField(blank=True, help_text='Deleted schedules never run again; the row stays for its history.', null=True),
        ),
        migrations.CreateModel(
            name='AuditScheduleEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('action', models.CharField(choices=[('created', 'Created'), ('edited', 'Edited'), ('paused', 'Paused'), ('resumed', 'Resumed'), ('deleted', 'Deleted')], max_length=10)),
                ('changes', models.JSONField(blank=True, default=dict)),
                ('reason', models.TextField(blank=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('actor', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('schedule', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='history', to='audits.auditschedule')),
            ],
            options={
                'ordering': ['-created_at', '-id'],
                'constraints': [models.CheckConstraint(condition=models.Q(('action__in', ['created', 'edited', 'paused', 'resumed', 'deleted'])), name='audits_schedule_event_action_valid'), models.CheckConstraint(condition=models.Q(models.Q(('action__in', ['edited', 'deleted']), _negated=True), models.Q(('reason', ''), _negated=True), _connector='OR'), name='audits_schedule_edit_has_reason')],
            },
        ),
        append_only_trigger("audits_auditscheduleevent"),
    ]
