"""The data audits' chapter: v1's training reference, October's clean signups, November's broken
batches, and a week of serving logs whose last two days lost a feature, each audited as it would be
live; then the schedules that keep auditing."""

from datetime import date, datetime, timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from audits import services as audit_services
from demo.batches import FLIPPED_DATE_FORMAT, clean_batch, festival_batch, shifted_batch, to_csv
from demo.serving import serving_records
from demo.training import TrainedModel

from . import soom


def reference_and_october(model, v1, signups, pipeline, result: TrainedModel, *, say) -> bytes:
    """v1's training reference (with v1's scores on it, the baseline of prediction drift), and
    October's clean signups audited against it. Returns October's CSV: the same bytes become the
    gate's hold-out, so the gate cites their passing audit."""
    training = signups[signups["signup_date"] <= str(v1.train_window_end)].copy()
    training["score"] = soom.scores(result, training)
    job = audit_services.reference_submit(
        version=v1,
        actor=pipeline,
        uploaded=SimpleUploadedFile("signups-2026-h1.csv", to_csv(training)),
        id_columns=["customer_id"],
        timestamp_columns=["signup_date"],
        label_column="upgraded_90d",
        prediction_column="score",
    )
    audit_services.audit_run(job_id=job.pk)  # here, not after the seed's transaction commits
    say(f"Built v1's training reference from {len(training):,} signups.")
    october = clean_batch(
        soom.HOLDOUT_SIGNUPS,
        start=date(2026, 10, 1),
        end=date(2026, 10, 31),
        seed=soom.SEED + 1,
        first_customer=soom.SIGNUPS + 1,
    )
    content = to_csv(october)
    audit(model, pipeline, "signups-2026-10.csv", content, version=v1, say=say)
    return content


def audit(model, pipeline, name: str, content: bytes, version=None, *, say):
    """One batch audited now, its verdict reported."""
    job = audit_services.audit_submit(
        model=model, actor=pipeline, name=name, version=version, uploaded=SimpleUploadedFile(name, content)
    )
    job = audit_services.audit_run(job_id=job.pk)
    failed = job.findings.filter(status="fail").count()
    say(f"Audit #{job.pk} of {name}: {job.verdict or job.state} ({failed} failing checks).")


def broken_batches(model, pipeline, *, say):
    """The batches the audits exist for: each broken the way real feeds break."""
    november = dict(
        start=date(2026, 11, 1),
        end=date(2026, 11, 15),
        seed=soom.SEED + 2,
        first_customer=soom.SIGNUPS + soom.HOLDOUT_SIGNUPS + 1,
    )
    for filename, make_batch, csv_options in (
        ("signups-2026-11-a-lobby-minutes.csv", shifted_batch, {}),
        ("signups-2026-11-b-festivals.csv", festival_batch, {}),
        ("signups-2026-11-c-new-export.csv", clean_batch, {"date_format": FLIPPED_DATE_FORMAT}),
    ):
        frame = make_batch(soom.BATCH_SIGNUPS, **november)
        audit(model, pipeline, filename, to_csv(frame, **csv_options), say=say)


def serving_week(model, v1, pipeline, result: TrainedModel, owner, *, say):
    """A week of v1's serving logs, sent through the bulk API's service; the new request parser
    of the last two days drops meeting_minutes, and the skew audit of the window says so."""
    if model.predictions.exists():
        return
    now = timezone.now().replace(microsecond=0)
    week = clean_batch(
        soom.SERVING_SIGNUPS,
        start=date(2026, 11, 16),
        end=date(2026, 11, 22),
        seed=soom.SEED + 3,
        first_customer=soom.SIGNUPS + soom.HOLDOUT_SIGNUPS + soom.BATCH_SIGNUPS + 1,
    )
    healthy, broken = week.iloc[: soom.SERVING_SIGNUPS * 5 // 7], week.iloc[soom.SERVING_SIGNUPS * 5 // 7 :]
    every = timedelta(days=7) / soom.SERVING_SIGNUPS
    start = now - timedelta(days=7)
    records = serving_records(
        healthy,
        soom.scores(result, healthy),
        version=v1.version,
        start=start,
        every=every,
        request_prefix="web",
        threshold=v1.decision_threshold,
    )
    records += serving_records(
        broken,
        soom.scores(result, broken),
        version=v1.version,
        start=start + len(healthy) * every,
        every=every,
        request_prefix="web-parser2",
        dropped_by_processing="meeting_minutes",
        threshold=v1.decision_threshold,
    )
    for record in records:
        record["predicted_at"] = datetime.fromisoformat(record["predicted_at"])
    counts = audit_services.predictions_log(model=model, records=records)
    say(f"Logged {counts['stored']:,} predictions of v1 from the last 7 days.")
    job = audit_services.serving_audit_submit(model=model, actor=owner, since=start, until=now, version=v1)
    job = audit_services.audit_run(job_id=job.pk)
    say(
        f"Audit #{job.pk} of the serving log: {job.verdict or job.state} "
        f"({job.findings.filter(status='fail').count()} failing checks)."
    )
    audit_services.schedule_create(
        model=model, actor=owner, name="nightly-serving-log", source="serving_log", cron="0 2 * * *", window_hours=24
    )
    audit_services.schedule_create(
        model=model,
        actor=owner,
        name="daily-signups",
        source="storage_path",
        cron="0 6 * * *",
        storage_path="incoming/upsell/signups-%Y-%m-%d.csv",
    )
