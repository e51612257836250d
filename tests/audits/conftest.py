import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from demo.batches import to_csv
from registry import services as registry_services
from tests.audits.factories import AlertFactory, AuditSuiteFactory, ReferenceProfileFactory
from tests.audits.pages_scenario import DRIFT_DETAILS, audit, finding, soom_profiles
from tests.audits.reference_scenario import upsell_in_production, upsell_training
from tests.factories import ModelVersionFactory, RegisteredModelFactory


@pytest.fixture
def upsell_with_reference(db, media, reviewer, pipeline, api_as, django_capture_on_commit_callbacks):
    """As upsell_reference_for, with the reference sent through the API as a pipeline does."""
    model, _ = upsell_in_production(reviewer, pipeline)
    training = upsell_training()
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(pipeline).post(
            "/api/v1/models/upsell/versions/1/reference",
            {
                "file": SimpleUploadedFile("training.csv", to_csv(training)),
                "id_columns": ["customer_id"],
                "timestamp_columns": ["signup_date"],
                "label_column": "upgraded_90d",
            },
            format="multipart",
        )
    assert response.status_code == 202, response.content
    return model


# --- Soom's audit story (the page and browser tests) ---------------------------------------------


@pytest.fixture
def soom(reviewer, pipeline):
    """Soom's upsell model: v3 serves in production and has a training reference."""
    model = RegisteredModelFactory(name="soom-upsell", owner=reviewer)
    v2 = ModelVersionFactory(model=model, version=2, created_by=pipeline)
    v3 = ModelVersionFactory(model=model, version=3, created_by=pipeline)
    registry_services.catalog.alias_point(
        model=model, alias="production", version=v3, actor=reviewer, reason="Retrained on spring signups"
    )
    reference, _ = soom_profiles()
    ReferenceProfileFactory(
        version=v3, batch__name="training signups", batch__created_by=pipeline, specs=[], profile=reference
    )
    return model, v2, v3


@pytest.fixture
def festival(soom, pipeline):
    """The week-32 batch: event_type gained 'festival', dates flipped, meetings got longer."""
    model, _, v3 = soom
    _, current = soom_profiles()
    job = audit(
        model,
        v3,
        pipeline,
        "signups week 32",
        verdict="fail",
        profile=current,
        rows_done=1000,
        rows_total=1000,
        finished_at=timezone.now(),
        facts={
            "bytes": 48_213,
            "sha256": "5f" * 32,
            "rows": 1000,
            "integrity_problems": [],
            "columns": ["meeting_minutes", "event_type", "plan", "signup_date", "customer_id"],
        },
    )
    # Recorded in an order unlike the page's, to show the page sorts them.
    finding(job, "schema", "", "pass", "All 5 reference columns are present.")
    finding(
        job,
        "drift",
        "meeting_minutes",
        "warn",
        "meeting_minutes moved: PSI 0.183 (warn above 0.1).",
        value=0.183,
        threshold=0.1,
        details=DRIFT_DETAILS,
    )
    finding(job, "nulls", "plan", "pass", "1.0% of plan is null (limit 5%).", value=0.01, threshold=0.05)
    finding(
        job,
        "new_categories",
        "event_type",
        "fail",
        "event_type has a value the model never saw: 'festival' (14.0% of rows).",
        value=0.14,
        threshold=0.01,
        details={
            "new_categories": ["festival"],
            "chi2": 812.4,
            "chi2_pvalue": 1e-170,
            "jensen_shannon": 0.21,
            "psi": 1.42,
        },
    )
    finding(
        job,
        "date_format",
        "signup_date",
        "fail",
        "70.0% of signup_date is written %d/%m/%Y; the training data used %Y-%m-%d.",
        value=0.7,
        threshold=0.0,
    )
    return job


@pytest.fixture
def history(soom, pipeline):
    """Earlier audits of soom-upsell, oldest first: pass, pass, warn."""
    model, _, v3 = soom
    jobs = []
    for number, verdict in enumerate(("pass", "pass", "warn"), start=29):
        jobs.append(
            audit(
                model,
                v3,
                pipeline,
                f"signups week {number}",
                verdict=verdict,
                created_at=timezone.now() - timezone.timedelta(days=40 - number),
            )
        )
    return jobs


@pytest.fixture
def alerts(festival):
    """Two open alerts first and last seen in `festival`: a drift warning seen three times, a new-category error."""
    fields = ("check_name", "column", "severity", "message", "occurrences")
    rows = (
        ("drift", "meeting_minutes", "warning", "meeting_minutes moved: PSI 0.183", 3),
        ("new_categories", "event_type", "error", "event_type has a value the model never saw", 1),
    )
    return [
        AlertFactory(model=festival.model, first_job=festival, **dict(zip(fields, row, strict=True))) for row in rows
    ]


@pytest.fixture
def suite(soom, pipeline):
    """The suite Keel suggested when v3's reference was built."""
    from audits.engine.suite import suggest_suite

    model, _, v3 = soom
    return AuditSuiteFactory(
        model=model, suite=suggest_suite(v3.reference_profile.profile).to_dict(), suggested_from=v3
    )
