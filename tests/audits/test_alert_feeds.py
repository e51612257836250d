"""Alerts belong to a feed: the source a batch came from (a schedule, a path pattern under the data
root, or a sender and a file name pattern). Only a later audit of the same feed in which the check
passes resolves a feed's alert; a batch with the bytes of an earlier audit is reported as a repeat
and changes no alert; resolved alerts stay on the page and in the API with who or what resolved
them, and when."""

from datetime import UTC, date, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audits import services
from audits.models import Alert, AlertState
from demo.batches import FLIPPED_DATE_FORMAT, clean_batch, to_csv
from tests.audits.factories import AlertFactory
from tests.audits.test_schedules import data_root  # noqa: F401 (a fixture)

OCTOBER = dict(start=date(2026, 10, 1), end=date(2026, 10, 31))
NOVEMBER = dict(start=date(2026, 11, 1), end=date(2026, 11, 30))
ROWS = 400


def export(seed: int, *, flipped_dates: bool = False, month=OCTOBER) -> bytes:
    frame = clean_batch(ROWS, seed=seed, first_customer=100_000, **month)
    return to_csv(frame, date_format=FLIPPED_DATE_FORMAT) if flipped_dates else to_csv(frame)


def send(api, content: bytes, name: str, capture) -> dict:
    with capture(execute=True):
        response = api.post(
            "/api/v1/audits/", {"model": "upsell", "file": SimpleUploadedFile(name, content)}, format="multipart"
        )
    assert response.status_code == 202, response.content
    return api.get(f"/api/v1/audits/{response.json()['id']}/").json()


def date_alerts(**filters):
    return Alert.objects.filter(column="signup_date", **filters)


@pytest.fixture
def pipeline_api(api_as, pipeline):
    return api_as(pipeline)


def test_resending_octobers_file_is_a_repeat_and_leaves_novembers_date_alert_open(
    upsell_with_reference, pipeline_api, api_as, reviewer, client_as, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    october = export(seed=31)
    first = send(pipeline_api, october, "signups-2026-10.csv", capture)
    assert first["verdict"] == "pass" and first["repeat_of"] is None
    assert first["feed"] == "upload:nightly-pipeline:signups-#-#.csv"

    november = send(pipeline_api, export(seed=32, flipped_dates=True, month=NOVEMBER), "signups-2026-11.csv", capture)
    alert = date_alerts().get()
    assert alert.state == AlertState.OPEN and alert.severity == "error" and alert.feed == november["feed"]

    again = send(pipeline_api, october, "signups-2026-10.csv", capture)
    assert again["repeat_of"] == first["id"] and again["feed"] == first["feed"]
    alert.refresh_from_db()
    assert alert.state == AlertState.OPEN and alert.occurrences == 1  # the repeat changed nothing
    report = pipeline_api.get(f"/api/v1/audits/{again['id']}/report.json").json()
    assert report["repeat_of"] == first["id"]
    page = client_as(reviewer).get(f"/audits/{again['id']}/").content.decode()
    assert f'A repeat of audit <a href="/audits/{first["id"]}/">#{first["id"]}</a>' in page

    fixed = send(pipeline_api, export(seed=33, month=NOVEMBER), "signups-2026-11.csv", capture)
    assert fixed["repeat_of"] is None and not [
        f for f in fixed["findings"] if f["column"] == "signup_date" and f["status"] == "fail"
    ]
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED and alert.resolved_by_job_id == fixed["id"]

    listed = api_as(reviewer).get("/api/v1/alerts/", {"state": "resolved"}).json()["results"]
    mine = next(row for row in listed if row["id"] == alert.pk)
    assert mine["resolved_by"] == {"audit": fixed["id"], "user": None, "reason": ""}
    assert mine["resolved_at"] and mine["last_job"] == november["id"]
    page = client_as(reviewer).get("/audits/", {"model": "upsell", "alerts": "resolved"}).content.decode()
    assert f'by audit <a href="/audits/{fixed["id"]}/">#{fixed["id"]}</a>' in page


def test_two_schedules_alerts_do_not_resolve_each_other(
    upsell_with_reference,
    data_root,  # noqa: F811
    reviewer,
    django_capture_on_commit_callbacks,
):
    crm = services.schedule_create(
        model=upsell_with_reference,
        actor=reviewer,
        name="crm",
        source="storage_path",
        cron="0 6 * * *",
        storage_path="incoming/crm-%Y-%m-%d.csv",
    )
    web = services.schedule_create(
        model=upsell_with_reference,
        actor=reviewer,
        name="web",
        source="storage_path",
        cron="0 7 * * *",
        storage_path="incoming/web-%Y-%m-%d.csv",
    )

    def run(schedule, content: bytes, day: int):
        now = datetime(2026, 11, day, 6, 0, tzinfo=UTC)
        (data_root / now.strftime(schedule.storage_path)).write_bytes(content)
        with django_capture_on_commit_callbacks(execute=True):
            job = services.scheduled_audit_run(schedule_id=schedule.pk, trigger_key=f"{schedule.name}-{day}", now=now)
        job.refresh_from_db()
        return job

    run(crm, export(seed=41, flipped_dates=True), 23)
    run(web, export(seed=42), 23)  # the web feed passes: the CRM feed's problem is not its to resolve
    crm_alert = date_alerts().get()
    assert crm_alert.state == AlertState.OPEN and crm_alert.feed == f"schedule:{crm.pk}"

    run(web, export(seed=43, flipped_dates=True), 24)  # the same problem in the other feed: its own alert
    assert date_alerts(state=AlertState.OPEN).count() == 2

    fixed = run(crm, export(seed=44), 25)
    crm_alert.refresh_from_db()
    assert crm_alert.state == AlertState.RESOLVED and crm_alert.resolved_by_job == fixed
    assert date_alerts(state=AlertState.OPEN).get().feed == f"schedule:{web.pk}"


def test_a_reviewer_resolves_an_alert_by_hand_with_a_reason(
    upsell_with_reference, api_as, reviewer, pipeline, client_as
):
    alert = AlertFactory(model=upsell_with_reference, check_name="date_format", column="signup_date", severity="error")
    url = f"/api/v1/alerts/{alert.pk}/resolve"
    assert api_as(pipeline).post(url, {"reason": "feed retired"}, format="json").status_code == 403
    refused = api_as(reviewer).post(url, {"reason": ""}, format="json")
    assert refused.status_code == 400 and "reason" in refused.json()["detail"]

    answer = api_as(reviewer).post(url, {"reason": "The CRM export was retired on 1 December."}, format="json")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["state"] == "resolved" and body["resolved_at"]
    assert body["resolved_by"] == {
        "audit": None,
        "user": "rita-reviewer",
        "reason": "The CRM export was retired on 1 December.",
    }
    assert api_as(reviewer).post(url, {"reason": "again"}, format="json").status_code == 409

    page = client_as(reviewer).get("/audits/", {"alerts": "resolved"}).content.decode()
    assert "by <strong>rita-reviewer</strong>: “The CRM export was retired on 1 December.”" in page


def test_the_resolve_button_is_a_reviewers_and_says_who(upsell_with_reference, reviewer, pipeline, client_as):
    alert = AlertFactory(model=upsell_with_reference, check_name="nulls", column="plan", severity="warning")
    page = client_as(reviewer).get("/audits/").content.decode()
    assert f'action="/audits/alerts/{alert.pk}/resolve/"' in page
    response = client_as(reviewer).post(f"/audits/alerts/{alert.pk}/resolve/", {"reason": "Rule was wrong"})
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED and alert.resolved_by == reviewer and alert.resolution_reason


def test_resolved_alerts_stay_visible_with_a_filter(upsell_with_reference, api_as, reviewer, client_as):
    open_alert = AlertFactory(model=upsell_with_reference, check_name="nulls", column="plan", message="plan nulls")
    closed = AlertFactory(
        model=upsell_with_reference, check_name="drift", column="attendees", message="attendees moved"
    )
    services.alert_resolve(alert=closed, actor=reviewer, reason="Re-baselined")

    api = api_as(reviewer)
    assert [a["id"] for a in api.get("/api/v1/alerts/", {"state": "resolved"}).json()["results"]] == [closed.pk]
    assert [a["id"] for a in api.get("/api/v1/alerts/", {"state": "open"}).json()["results"]] == [open_alert.pk]
    assert {a["id"] for a in api.get("/api/v1/alerts/").json()["results"]} == {open_alert.pk, closed.pk}

    default = client_as(reviewer).get("/audits/").content.decode()
    assert "plan nulls" in default and "attendees moved" not in default
    resolved = client_as(reviewer).get("/audits/", {"alerts": "resolved"}).content.decode()
    assert "attendees moved" in resolved and "plan nulls" not in resolved
    both = client_as(reviewer).get("/audits/", {"alerts": "all"}).content.decode()
    assert "attendees moved" in both and "plan nulls" in both


def test_dated_files_of_one_export_are_one_feed_and_senders_are_separate(upsell_with_reference, pipeline, reviewer):
    from tests.audits.factories import DataBatchFactory

    def upload(name, actor):
        return DataBatchFactory.build(model=upsell_with_reference, name=name, storage_path="", created_by=actor)

    october = services.feed_key(batch=upload("x", pipeline), sent_name="exports/signups-2026-10-01.csv")
    november = services.feed_key(batch=upload("x", pipeline), sent_name="signups-2026-11-01.csv")
    by_hand = services.feed_key(batch=upload("x", reviewer), sent_name="signups-2026-11-01.csv")
    assert october == november == "upload:nightly-pipeline:signups-#-#-#.csv"
    assert by_hand != november
    dropped = DataBatchFactory.build(model=upsell_with_reference, storage_path="incoming/crm-2026-11-23.csv")
    assert services.feed_key(batch=dropped) == "path:incoming/crm-#-#-#.csv"
