"""Data audit pages, as reviewers, pipelines, support agents and labellers use them.

The story (Soom's upsell model, the week-32 batch, earlier audits, alerts, the suite) is in
tests/audits/conftest.py and pages_scenario.py. The audits are written straight into the database
in the state each story needs (queued, running, failed, finished with findings): the engine that
produces them is tested on its own, and here on_commit never fires under the `db` fixture, so a
started audit stays queued.
"""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from audits.models import (
    AuditJob,
    AuditKind,
    AuditState,
    DataBatch,
)
from tests.audits.pages_scenario import audit, profiling
from tests.clients import page, section
from tests.factories import ModelVersionFactory, RegisteredModelFactory

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def uploads_in_tmp(media):
    """Every story here may upload a batch: keep it in the temporary MEDIA_ROOT (conftest's `media`)."""


def report_url(job) -> str:
    return reverse("audits:detail", args=[job.pk])


# --- the list -----------------------------------------------------------------------------------


def test_a_reviewer_sees_open_alerts_first_then_the_verdict_trend_then_the_audits(
    history, festival, alerts, soom, pipeline, reviewer, client_as
):
    model, _, v3 = soom
    running = profiling(model, v3, pipeline, "signups week 33", rows_done=250)

    html = page(client_as(reviewer), reverse("audits:list"))
    assert html.index('id="alerts-h"') < html.index('id="trends-h"') < html.index('id="audits-h"')

    open_alerts = section(html, "alerts-h")
    rows = re.findall(r'<tr class="severity-(\w+)">.*?</tr>', open_alerts, re.S)
    assert rows == ["error", "warning"]  # the error on top
    assert "New categories" in open_alerts and "<code>event_type</code>" in open_alerts and "3×" in open_alerts
    assert f'href="/audits/{festival.pk}/">#{festival.pk}</a>' in open_alerts

    trend = section(html, "trends-h")
    squares = re.findall(r'class="trend-square verdict-(\w+)" href="/audits/(\d+)/"', trend)
    assert squares == [
        ("pass", str(history[0].pk)),
        ("pass", str(history[1].pk)),
        ("warn", str(history[2].pk)),
        ("fail", str(festival.pk)),
    ]  # oldest → newest; the running audit has no verdict yet

    table = section(html, "audits-h")
    festival_row = re.search(rf'<tr>\s*<td><a class="strong" href="/audits/{festival.pk}/">.*?</tr>', table, re.S)[0]
    assert "signups week 32" in festival_row and "v3" in festival_row and "✗ fail" in festival_row
    assert '<span class="count bad">2</span>' in festival_row and '<span class="count warn">1</span>' in festival_row
    assert "1,000" in festival_row
    running_row = re.search(rf'<tr>\s*<td><a class="strong" href="/audits/{running.pk}/">.*?</tr>', table, re.S)[0]
    assert 'role="progressbar"' in running_row and "Profiling · 250 of 1,000 rows · 25%" in running_row
    # The nav counts the open alerts.
    assert re.search(r'Audits <span class="nav-count alerts"[^>]*>2</span>', html)


def test_the_list_filters_by_model(festival, soom, pipeline, reviewer, client_as):
    churn = RegisteredModelFactory(name="churn-risk")
    other = audit(churn, ModelVersionFactory(model=churn), pipeline, "churn march", verdict="pass")

    html = page(client_as(reviewer), reverse("audits:list") + "?model=churn-risk")
    assert "churn march" in html and "signups week 32" not in html
    assert "Audits of" in html and 'href="/audits/suites/churn-risk/"' in html
    assert re.findall(r'trend-square verdict-(\w+)" href="/audits/(\d+)/"', html) == [("pass", str(other.pk))]
    unknown = page(client_as(reviewer), reverse("audits:list") + "?model=nope")
    assert "Select a valid choice" in unknown


def test_with_no_audits_the_list_says_how_to_start_one(reviewer, client_as):
    html = page(client_as(reviewer), reverse("audits:list"))
    assert "No audits yet" in html and "No open alerts" in html and "POST /api/v1/audits/" in html


# --- the report ---------------------------------------------------------------------------------


def test_the_report_puts_failing_checks_above_warnings_above_the_passed_ones(festival, reviewer, client_as):
    html = page(client_as(reviewer), report_url(festival))
    assert '<span class="verdict-badge verdict-fail big"' in html
    assert "signups week 32" in html and "CSV · 47.1\xa0KB · 1,000 rows · 5 columns" in html
    assert "<code>5f5f5f5f5f5f</code>" in html and "v3</a>'s training reference" in html
    assert html.index('id="failing-h"') < html.index('id="warnings-h"') < html.index('id="passed-h"')

    failing = section(html, "failing-h")
    assert re.findall(r'data-check="(\w+)"', failing) == ["new_categories", "date_format"]
    assert "&#x27;festival&#x27; (14.0% of rows)" in failing
    assert '0.14 <span class="muted">vs limit</span> 0.01' in failing
    assert "New values:</span> <code>festival</code>" in failing
    warnings = section(html, "warnings-h")
    assert re.findall(r'data-check="(\w+)"', warnings) == ["drift"]
    # Passed checks are there, but folded away.
    passed = section(html, "passed-h")
    assert '<details class="passed-checks">' in passed and "2 checks passed" in passed
    assert "All 5 reference columns are present." in passed
    assert 'http-equiv="refresh"' not in html
    assert f'href="/api/v1/audits/{festival.pk}/report.json"' in html


def test_drift_statistics_are_labelled_and_the_p_value_only_rules_out_noise(festival, reviewer, client_as):
    warnings = section(page(client_as(reviewer), report_url(festival)), "warnings-h")
    stats = dict(re.findall(r"<dt>([^<]+?)(?: <span[^>]*>[^<]*</span>)?</dt><dd>([^<]+)</dd>", warnings))
    assert stats == {
        "PSI": "0.183",
        "KS D": "0.162",
        "p-value": "3.1e-19",
        "Wasserstein": "11.8",
        "Wasserstein / spread": "0.31",
        "+ error of KS D": "0.005",
    }
    assert re.search(
        r'class="information-only".*?<dt>p-value <span class="stat-note">\(rules out sampling noise '
        r"only: effect size sets the status\)</span>",
        warnings,
    )
    failing = section(page(client_as(reviewer), report_url(festival)), "failing-h")
    assert "<dt>χ²</dt><dd>812.4</dd>" in failing and "<dt>Jensen–Shannon</dt><dd>0.21</dd>" in failing


def test_pictures_show_flagged_columns_first_and_load_lazily(festival, reviewer, client_as):
    pictures = section(page(client_as(reviewer), report_url(festival)), "pictures-h")
    assert f'src="/audits/{festival.pk}/plots/nulls.png"' in pictures
    columns = re.findall(r'<figure class="card plot( flagged)?" id="picture-\d+" data-column="(\w+)"', pictures)
    # Failing columns in the findings' order, then the warning, then the rest; ids have no picture.
    assert columns == [
        (" flagged", "event_type"),
        (" flagged", "signup_date"),
        (" flagged", "meeting_minutes"),
        ("", "plan"),
    ]
    assert pictures.count('loading="lazy"') == 4
    assert f'src="/audits/{festival.pk}/plots/column/event_type.png"' in pictures


def test_the_pictures_are_pngs_a_browser_may_keep_privately(festival, reviewer, client_as):
    client = client_as(reviewer)
    for url in (
        reverse("audits:plot-nulls", args=[festival.pk]),
        reverse("audits:plot-column", args=[festival.pk, "meeting_minutes"]),
        reverse("audits:plot-column", args=[festival.pk, "event_type"]),
        reverse("audits:plot-column", args=[festival.pk, "signup_date"]),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Type"] == "image/png" and response.content.startswith(PNG)
        assert "private" in response["Cache-Control"] and "max-age=3600" in response["Cache-Control"]


def test_a_picture_of_an_unknown_column_an_id_or_an_unfinished_audit_is_not_found(
    festival, soom, pipeline, reviewer, client_as
):
    model, _, v3 = soom
    queued = audit(model, v3, pipeline, "signups week 33", state=AuditState.QUEUED)
    client = client_as(reviewer)
    assert client.get(reverse("audits:plot-column", args=[festival.pk, "favourite_colour"])).status_code == 404
    assert client.get(reverse("audits:plot-column", args=[festival.pk, "customer_id"])).status_code == 404
    assert client.get(reverse("audits:plot-nulls", args=[queued.pk])).status_code == 404
    assert client.get(reverse("audits:plot-nulls", args=[999_999])).status_code == 404


def test_a_running_audit_shows_its_progress_and_refreshes_itself(soom, pipeline, reviewer, client_as):
    model, _, v3 = soom
    running = profiling(model, v3, pipeline, "signups week 33", rows_done=420)
    html = page(client_as(reviewer), report_url(running))
    assert '<meta http-equiv="refresh" content="3">' in html
    assert 'aria-valuenow="42"' in html and "Profiling · 420 of 1,000 rows · 42%" in html
    assert "Keel is auditing this batch" in html and 'id="pictures-h"' not in html

    queued = audit(model, v3, pipeline, "signups week 34", state=AuditState.QUEUED, stage="queued")
    html = page(client_as(reviewer), report_url(queued))
    assert '<meta http-equiv="refresh" content="3">' in html and "Waiting for a worker" in html
    assert "indeterminate" in html  # no row count yet


def test_a_failed_audit_says_why_in_plain_words(soom, pipeline, reviewer, client_as):
    model, _, v3 = soom
    failed = audit(
        model,
        v3,
        pipeline,
        "signups week 35",
        state=AuditState.FAILED,
        error="The file is not valid UTF-8: the first bad byte is at offset 1834.",
    )
    html = page(client_as(reviewer), report_url(failed))
    assert "This audit could not run: The file is not valid UTF-8: the first bad byte is at offset 1834." in html
    assert 'role="alert"' in html and "could not run</span>" in html and 'http-equiv="refresh"' not in html


def test_an_unknown_audit_is_not_found(reviewer, client_as):
    assert client_as(reviewer).get(reverse("audits:detail", args=[424242])).status_code == 404


# --- who may do what ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["agent", "labeller"])
def test_agents_and_labellers_neither_read_audits_nor_start_them(role, festival, soom, client_as, request):
    client = client_as(request.getfixturevalue(role))
    assert client.get(reverse("audits:list")).status_code == 403
    assert client.get(report_url(festival)).status_code == 403
    assert client.get(reverse("audits:plot-nulls", args=[festival.pk])).status_code == 403
    model_page = page(client, reverse("registry:model-detail", args=[soom[0].name]))
    assert "Audits</a>" not in model_page
    assert client.get(reverse("audits:new")).status_code == 403
    upload = SimpleUploadedFile("week32.csv", b"plan,meeting_minutes\nfree,30\n")
    response = client.post(reverse("audits:new"), {"model": "soom-upsell", "file": upload})
    assert response.status_code == 403
    assert not AuditJob.objects.exclude(pk=festival.pk).exists()


def test_anonymous_visitors_are_sent_to_sign_in_and_outsiders_are_refused(festival, outsider, client_as):
    for url in (
        reverse("audits:list"),
        report_url(festival),
        reverse("audits:plot-nulls", args=[festival.pk]),
        reverse("audits:new"),
        reverse("audits:suite", args=["soom-upsell"]),
    ):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url
        assert client_as(outsider).get(url).status_code == 403, url


# --- starting an audit ----------------------------------------------------------------------------


def test_a_pipeline_uploads_a_batch_and_lands_on_its_report(soom, pipeline, client_as):
    client = client_as(pipeline)
    assert "Start the audit" in page(client, reverse("audits:new") + "?model=soom-upsell")
    upload = SimpleUploadedFile("signups-week-33.csv", b"plan,meeting_minutes\nfree,30\neducation,45\n")
    response = client.post(reverse("audits:new"), {"model": "soom-upsell", "file": upload})

    job = AuditJob.objects.get(batch__name="signups-week-33.csv")
    assert response.status_code == 302 and response["Location"] == report_url(job)
    assert job.state == AuditState.QUEUED and job.version.version == 3 and job.kind == AuditKind.BATCH
    assert job.batch.format == "csv" and job.created_by == pipeline
    html = page(client, report_url(job))
    assert "Audit #" in html and "queued" in html and "Waiting for a worker" in html


def test_the_start_form_shows_what_is_wrong_instead_of_failing(soom, reviewer, client_as):
    client = client_as(reviewer)
    upload = lambda: SimpleUploadedFile("week33.csv", b"plan\nfree\n")  # noqa: E731

    response = client.post(reverse("audits:new"), {"model": "nope", "file": upload()})
    assert response.status_code == 400 and "There is no such model." in response.content.decode()

    response = client.post(reverse("audits:new"), {"model": "soom-upsell"})
    assert response.status_code == 400
    assert "Upload a file or give a storage path (one of the two)." in response.content.decode()

    response = client.post(reverse("audits:new"), {"model": "soom-upsell", "file": upload(), "version": "9"})
    assert response.status_code == 400 and "soom-upsell has no v9." in response.content.decode()

    # v2 has no training reference: the service refuses, the form says so next to the version.
    response = client.post(reverse("audits:new"), {"model": "soom-upsell", "file": upload(), "version": "2"})
    html = response.content.decode()
    assert response.status_code == 409
    assert re.search(
        r'<div class="field has-error">\s*<label for="id_version">.*?v2 has no training reference yet', html, re.S
    )

    response = client.post(
        reverse("audits:new"), {"model": "soom-upsell", "file": SimpleUploadedFile("week33.xlsx", b"PK\x03\x04")}
    )
    assert response.status_code == 400 and "Say the format" in response.content.decode()
    assert not AuditJob.objects.filter(kind=AuditKind.BATCH).exists()
    assert not DataBatch.objects.filter(name__startswith="week33").exists()


# --- the model page's panel -----------------------------------------------------------------------


def test_the_model_panel_shows_the_trend_the_latest_audits_and_open_alerts(history, festival, alerts, reviewer, rf):
    from django.template import Context, Template

    request = rf.get("/")
    request.user = reviewer
    html = Template("{% load keel_audits %}{% model_audits_panel model %}").render(
        Context({"model": festival.model, "user": reviewer, "request": request})
    )
    assert "Data audits" in html and "2 open alerts" in html
    assert len(re.findall(r'class="trend-square verdict-', html)) == 4
    assert f'href="/audits/{festival.pk}/">#{festival.pk}</a> signups week 32' in html
    assert 'href="/audits/new/?model=soom-upsell"' in html and 'href="/audits/suites/soom-upsell/"' in html


# --- the suite ------------------------------------------------------------------------------------


def suite_url(model_name="soom-upsell") -> str:
    return reverse("audits:suite", args=[model_name])


def column_row(html: str, column: str) -> str:
    return re.search(rf'<tr data-column="{column}">.*?</tr>', html, re.S)[0]


def test_a_reviewer_reads_the_suite_column_by_column(suite, reviewer, client_as):
    html = page(client_as(reviewer), suite_url())
    assert 'Suggested from <a href="/models/soom-upsell/versions/3/">v3</a>\'s training reference' in html
    assert "between <strong>0.5×</strong> and <strong>2.0×</strong> the median of the last 10 batches" in html
    event_type = column_row(html, "event_type")
    assert "a new value fails the batch" in event_type
    assert re.findall(r"<code>(\w+)</code>", event_type)[1:] == ["conference", "meeting", "meetup", "webinar"]
    assert "Jensen–Shannon warns at 0.1, fails at 0.2" in event_type
    assert "Fails above 11%" in column_row(html, "plan")  # 1% null in training, plus 10 points of slack
    assert "Written %Y-%m-%d" in column_row(html, "signup_date")
    assert "PSI warns at 0.1, fails at 0.25" in column_row(html, "meeting_minutes")
    assert "Edit the rules of <code>meeting_minutes</code>" in html and "Edit everything as JSON" in html


def test_a_reviewer_tightens_one_column_and_the_rest_is_kept(suite, reviewer, client_as):
    client = client_as(reviewer)
    response = client.post(
        suite_url(),
        {
            "column": "meeting_minutes",
            "max_null_share": "2",
            "max_null_increase": "1",
            "min_value": "0",
            "max_value": "",
            "drift_psi_warn": "0.05",
            "drift_psi_fail": "0.2",
            "drift_wasserstein_warn": "0.1",
        },
    )
    assert response.status_code == 302 and response["Location"] == suite_url()

    suite.refresh_from_db()
    rules = suite.suite["columns"]["meeting_minutes"]
    assert rules["max_null_share"] == pytest.approx(0.02) and rules["max_null_increase"] == pytest.approx(0.01)
    assert rules["min_value"] == 0 and rules["max_value"] is None
    assert rules["drift_psi_warn"] == 0.05 and rules["drift_psi_fail"] == 0.2
    assert suite.suite["columns"]["event_type"]["allowed_values"] == ["conference", "meeting", "meetup", "webinar"]
    assert suite.updated_by == reviewer
    html = page(client, suite_url())
    assert "The rules of meeting_minutes saved." in html and "Last edited by <strong>rita-reviewer</strong>" in html
    assert "Between 0 and ∞" in column_row(html, "meeting_minutes")


def test_festival_becomes_an_allowed_event_type(suite, reviewer, client_as):
    response = client_as(reviewer).post(
        suite_url(),
        {
            "column": "event_type",
            "max_null_share": "10",
            "max_null_increase": "2",
            "allowed_values": "meeting\nwebinar\nconference\nmeetup\nfestival\n",
            "max_share_change": "10",
            "drift_psi_warn": "0.1",
            "drift_psi_fail": "0.25",
            "drift_js_warn": "0.1",
            "drift_js_fail": "0.2",
        },
    )
    assert response.status_code == 302
    suite.refresh_from_db()
    assert "festival" in suite.suite["columns"]["event_type"]["allowed_values"]


def test_a_rule_the_engine_refuses_is_shown_with_its_reason_and_nothing_changes(suite, reviewer, client_as):
    before = suite.suite
    response = client_as(reviewer).post(
        suite_url(),
        {"column": "meeting_minutes", "max_null_share": "10", "drift_psi_warn": "0.5", "drift_psi_fail": "0.2"},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "The suite is not valid: drift_psi_warn is above drift_psi_fail" in html
    assert '<details class="column-edit" open>' in html  # the form with the error stays open
    suite.refresh_from_db()
    assert suite.suite == before


def test_the_whole_suite_can_be_edited_as_json_and_bad_json_is_explained(suite, reviewer, client_as):
    import json

    client = client_as(reviewer)
    response = client.post(suite_url(), {"suite": '{"columns": {}, "history_batches": 5'})
    assert response.status_code == 400 and "This is not valid JSON" in response.content.decode()
    response = client.post(suite_url(), {"suite": json.dumps({**suite.suite, "retries": 3})})
    assert response.status_code == 400
    assert "The suite is not valid: unknown suite field(s): retries" in response.content.decode()

    response = client.post(suite_url(), {"suite": json.dumps({**suite.suite, "history_batches": 5})})
    assert response.status_code == 302
    suite.refresh_from_db()
    assert suite.suite["history_batches"] == 5


def test_agents_neither_read_nor_edit_the_suite(suite, agent, client_as):
    client = client_as(agent)
    assert client.get(suite_url()).status_code == 403
    response = client.post(suite_url(), {"column": "plan", "max_null_share": "50"})
    assert response.status_code == 403


def test_without_a_saved_suite_the_page_shows_the_suggestion_audits_would_use(soom, reviewer, client_as):
    html = page(client_as(reviewer), suite_url())
    assert "Not saved yet: audits use the suite suggested from" in html and "v3</a>'s training reference" in html
    assert "Written %Y-%m-%d" in column_row(html, "signup_date")
    churn = RegisteredModelFactory(name="churn-risk")
    assert "No suite yet" in page(client_as(reviewer), suite_url(churn.name))


def test_the_audit_pages_show_each_time_with_its_zone(history, soom, reviewer, client_as):
    job = history[-1]
    client = client_as(reviewer)

    report = page(client, report_url(job))
    listing = page(client, reverse("audits:list"))

    stamp = f"{job.created_at:%Y-%m-%d %H:%M} UTC"
    assert f'title="{stamp}"' in report
    assert f'title="{stamp}"' in listing
    assert f"({stamp})" in listing  # the verdict trend's squares
