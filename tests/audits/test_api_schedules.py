"""A schedule's cron is documented with the pattern the API checks: every schedule the schema admits
is one Keel accepts and celery beat runs, and what it refuses is refused. A name already taken is a
conflict (409), not a malformed request."""

import re

import pytest
from celery.schedules import crontab

from audits.models import CRON_PATTERN, AuditSchedule
from tests.api_schema import body_schema, schema_admits

PATH = "/api/v1/models/{name}/audit-schedules"
URL = "/api/v1/models/upsell/audit-schedules"

# Each field's single values: numbers with and without a leading zero, names of every length and case.
MONTHS = ["jan", "Feb", "MARCH", "april", "decembers", "ja", "foo"]
DAYS = ["sun", "Mon", "TUESDAY", "wed", "thursday", "mondays", "th", "bar"]
SINGLE_VALUES = [str(n) for n in range(100)] + [f"0{n}" for n in range(10)] + MONTHS + DAYS
FIELDS = ["minute", "hour", "day_of_month", "month_of_year", "day_of_week"]


def celery_runs(cron: str) -> bool:
    fields = cron.split()
    try:
        crontab(**dict(zip(FIELDS, fields, strict=True)))
    except (ValueError, TypeError, KeyError):
        return False
    return True


def with_field(position: int, value: str) -> str:
    fields = ["0", "6", "*", "*", "*"]
    fields[position] = value
    return " ".join(fields)


def test_the_schema_documents_the_pattern_the_api_checks():
    # drf-spectacular writes Python's \xNN escapes as ECMA's \u00NN.
    published = body_schema("POST", PATH)["properties"]["cron"]["pattern"]
    assert published.replace("\\u00", "\\x") == CRON_PATTERN


@pytest.mark.parametrize("position", range(5))
def test_every_single_value_the_pattern_admits_runs(position):
    for value in SINGLE_VALUES:
        cron = with_field(position, value)
        if re.fullmatch(CRON_PATTERN, cron):
            assert celery_runs(cron), cron


@pytest.mark.parametrize("position", range(5))
def test_every_range_list_and_step_the_pattern_admits_runs(position):
    for first in ("0", "1", "5", "6", "7", "12", "23", "31", "59", "mon", "jan"):
        for second in ("0", "1", "6", "12", "31", "59", "fri", "dec"):
            for step in ("", "/1", "/2", "/99"):
                for cron in (with_field(position, f"{first}-{second}{step}"), with_field(position, f"*{step},{first}")):
                    if re.fullmatch(CRON_PATTERN, cron):
                        assert celery_runs(cron), cron


@pytest.mark.parametrize(
    "cron",
    ["0 6 * * *", "*/15 9-17 * * mon-fri", " 0  6 1,15 jan-MAR/2 SUNDAY ", "59 23 31 12 6", "0 0 * * Thursday"],
)
def test_a_schedule_the_schema_admits_is_created(upsell_with_reference, reviewer, api_as, cron):
    body = {"name": "logs", "source": "serving_log", "cron": cron}
    assert schema_admits("POST", PATH, body)
    response = api_as(reviewer).post(URL, body, format="json")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    "cron",
    [
        "0 6 * *",
        "60 * * * *",
        "5/15 * * * *",
        "* * * * 7",
        "*/0 * * * *",
        # celery would read these (a month name as a minute, "monkey" as Monday, a step past 99);
        # Keel's schedules are the documented subset.
        "jan * * * *",
        "0 6 * * monkey",
        "*/100 * * * *",
    ],
)
def test_a_schedule_outside_the_documented_subset_is_refused(upsell_with_reference, reviewer, api_as, cron):
    body = {"name": "logs", "source": "serving_log", "cron": cron}
    assert not schema_admits("POST", PATH, body)
    response = api_as(reviewer).post(URL, body, format="json")
    assert response.status_code == 400 and "cron" in response.json()["detail"], response.content
    assert not AuditSchedule.objects.exists()


def test_a_file_schedule_without_a_path_is_refused_by_the_schema_too(upsell_with_reference, reviewer, api_as):
    body = {"name": "feed", "source": "storage_path", "cron": "0 6 * * *", "storage_path": "  "}
    assert not schema_admits("POST", PATH, body)
    assert api_as(reviewer).post(URL, body, format="json").status_code == 400


def test_a_name_already_taken_is_a_conflict(upsell_with_reference, reviewer, api_as):
    body = {"name": "logs", "source": "serving_log", "cron": "0 * * * *"}
    assert api_as(reviewer).post(URL, body, format="json").status_code == 201
    again = api_as(reviewer).post(URL, body, format="json")
    assert again.status_code == 409 and "name" in again.json()["detail"]
    assert AuditSchedule.objects.count() == 1


@pytest.mark.parametrize("enabled", [0, 1, 1.0])
def test_a_number_is_not_a_boolean(upsell_with_reference, reviewer, api_as, enabled):
    api = api_as(reviewer)
    api.post(URL, {"name": "logs", "source": "serving_log", "cron": "0 * * * *"}, format="json")
    response = api.patch(f"{URL}/logs", {"enabled": enabled}, format="json")
    assert response.status_code == 400 and "enabled" in response.json()["detail"], response.content
    assert AuditSchedule.objects.get().enabled
