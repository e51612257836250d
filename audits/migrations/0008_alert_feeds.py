"""Alerts belong to a feed. Each audit records its feed (where its batch came from) and the first
audit of the same bytes it repeats; an alert records its feed and who or what resolved it.

Existing rows are filled in with the feed rules of audits.services.feeds as they stand here (written
out, not imported: a migration means the same forever). An alert takes the feed of the audit that
opened it, a staleness alert its schedule's; an alert resolved before this migration was resolved by
its last audit, as the code then recorded it."""

import re

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

DIGITS = re.compile(r"[0-9]+")


def _feed(job) -> str:
    if job.schedule_id is not None:
        return f"schedule:{job.schedule_id}"
    if (job.facts or {}).get("serving"):
        return f"serving:v{job.version.version}"
    if job.batch.storage_path:
        return "path:" + DIGITS.sub("#", job.batch.storage_path)
    name = job.batch.name.replace("\\", "/").rsplit("/", 1)[-1]
    return f"upload:{job.batch.created_by.username}:" + DIGITS.sub("#", name)


def feeds_of_existing_rows(apps, schema_editor):
    AuditJob = apps.get_model("audits", "AuditJob")
    Alert = apps.get_model("audits", "Alert")
    AuditSchedule = apps.get_model("audits", "AuditSchedule")
    jobs = AuditJob.objects.filter(kind="batch").select_related("batch__created_by", "version")
    for job in jobs.iterator():
        AuditJob.objects.filter(pk=job.pk).update(feed=_feed(job))
    for alert in Alert.objects.select_related("first_job", "last_job").iterator():
        feed = ""
        if alert.check_name == "staleness" and alert.column.startswith("schedule:"):
            found = AuditSchedule.objects.filter(model_id=alert.model_id, name=alert.column[len("schedule:") :]).first()
            feed = f"schedule:{found.pk}" if found else ""
        elif alert.first_job is not None or alert.last_job is not None:
            feed = AuditJob.objects.get(pk=(alert.first_job or alert.last_job).pk).feed
        fields = {"feed": feed}
        if alert.state == "resolved":
            fields["resolved_by_job"] = alert.last_job
        Alert.objects.filter(pk=alert.pk).update(**fields)


class Migration(migrations.Migration):
    dependencies = [
        ("audits", "0007_finding_not_checked"),
        ("registry", "0009_holdout_positive_label"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="alert",
            options={
                "ordering": ["state", "-last_seen_at"],
                "permissions": [("resolve_alerts", "Can resolve an alert by hand, with a reason")],
            },
        ),
        migrations.RemoveConstraint(
            model_name="alert",
            name="audits_one_open_alert_per_check",
        ),
        migrations.AddField(
            model_name="alert",
            name="feed",
            field=models.CharField(
                blank=True, help_text="The feed whose audits raised it (see AuditJob.feed).", max_length=600
            ),
        ),
        migrations.AddField(
            model_name="alert",
            name="resolution_reason",
            field=models.TextField(blank=True, help_text="Why a reviewer resolved it by hand."),
        ),
        migrations.AddField(
            model_name="alert",
            name="resolved_by",
            field=models.ForeignKey(
                blank=True,
                help_text="The reviewer who resolved it by hand.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="alert",
            name="resolved_by_job",
            field=models.ForeignKey(
                blank=True,
                help_text="The audit of the same feed that passed the check.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="resolved_alerts",
                to="audits.auditjob",
            ),
        ),
        migrations.AddField(
            model_name="auditjob",
            name="feed",
            field=models.CharField(
                blank=True,
                help_text="Where the batch came from (audits.services.feed_key): only a later audit of the same feed resolves this feed's alerts.",
                max_length=600,
            ),
        ),
        migrations.AddField(
            model_name="auditjob",
            name="repeat_of",
            field=models.ForeignKey(
                blank=True,
                help_text="The first audit of the same model of exactly these bytes (same sha256): a repeat neither opens nor resolves alerts.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="audits.auditjob",
            ),
        ),
        migrations.RunPython(feeds_of_existing_rows, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="alert",
            constraint=models.UniqueConstraint(
                condition=models.Q(("state", "open")),
                fields=("model", "feed", "check_name", "column"),
                name="audits_one_open_alert_per_feed_check",
            ),
        ),
        migrations.AddConstraint(
            model_name="alert",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("state", "open"),
                        ("resolved_at__isnull", True),
                        ("resolved_by_job__isnull", True),
                        ("resolved_by__isnull", True),
                        ("resolution_reason", ""),
                    ),
                    models.Q(("state", "resolved"), ("resolved_at__isnull", False)),
                    _connector="OR",
                ),
                name="audits_alert_resolution_when_resolved",
            ),
        ),
        migrations.AddConstraint(
            model_name="alert",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("resolved_by__isnull", True),
                    models.Q(("resolved_by_job__isnull", True), models.Q(("resolution_reason", ""), _negated=True)),
                    _connector="OR",
                ),
                name="audits_alert_resolved_by_hand_says_why",
            ),
        ),
    ]
