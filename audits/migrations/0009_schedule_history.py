"""Schedules keep a history: an append-only event per creation, edit, pause, resume and deletion
(UPDATE refused on PostgreSQL and SQLite, DELETE on PostgreSQL, as for the other Keel logs), and a
deleted schedule stays as a row with `deleted_at` so its history can be read. The SQL is written out
here so this migration means the same forever."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

TABLE = "audits_auditscheduleevent"
INSTALL = {
    "postgresql": [
        "\nCREATE OR REPLACE FUNCTION keel_refuse_change() RETURNS trigger AS $$\nBEGIN\n"
        "  RAISE EXCEPTION 'Keel logs are append-only: % on % is refused', TG_OP, TG_TABLE_NAME\n"
        "    USING ERRCODE = 'restrict_violation';\nEND;\n$$ LANGUAGE plpgsql;\n",
        f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
        "FOR EACH ROW EXECUTE FUNCTION keel_refuse_change()",
    ],
    "sqlite": [
        f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE ON {TABLE} "
        f"BEGIN SELECT RAISE(ABORT, 'Keel logs are append-only: UPDATE on {TABLE} is refused'); END"
    ],
}
UNINSTALL = {
    "postgresql": [f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}"],
    "sqlite": [f"DROP TRIGGER IF EXISTS {TABLE}_append_only"],
}


def run(statements):
    def apply(apps, schema_editor):  # params=None: '%' in the plpgsql body is not a placeholder
        for sql in statements.get(schema_editor.connection.vendor, ()):
            schema_editor.execute(sql, params=None)

    return apply


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
        migrations.RunPython(run(INSTALL), run(UNINSTALL)),
    ]
