"""Every route of the URL conf × every HTTP method it serves × the six actors, against the one table
in tests/mlops/permission_table.py. A route without a row fails the suite, so a new endpoint cannot
ship without someone deciding who may call it.

One scenario per module (a model with versions, a run, a promotion request, an audit, a schedule, list
entries, a bulk upload, a privacy request, an explanation) fills the URLs' arguments with real objects;
each request runs in a savepoint rolled back after it, so no call changes what the next one sees. The
bodies are empty: a role that passes gets the validation error (400) or whatever the view answers."""

import re
from urllib.parse import urlsplit

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils.crypto import get_random_string
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audits.models import AuditKind, RelabelSchedule
from mlops import roles
from registry.models import PromotionRequest
from support import services as support_services
from support.models import Explanation
from tests.audits.factories import (
    AlertFactory,
    AuditJobFactory,
    AuditScheduleFactory,
    AuditSuiteFactory,
    RelabelItemFactory,
)
from tests.factories import (
    BlacklistEntryFactory,
    ModelVersionFactory,
    PrivacyRequestFactory,
    RegisteredModelFactory,
    SurfaceFactory,
    TrainingRunFactory,
    UserFactory,
)
from tests.mlops.permission_routes import routes
from tests.mlops.permission_table import ACTORS, TABLE

GROUPS = {
    "pipeline": ("nightly-pipeline", [roles.PIPELINES]),
    "reviewer": ("rita-reviewer", [roles.REVIEWERS]),
    "agent": ("ada-agent", [roles.SUPPORT_AGENTS]),
    "labeller": ("lou-labeller", [roles.LABELLERS]),
    "outsider": ("olly-outsider", []),
}
LOGIN_PATHS = ("/accounts/login/", "/admin/login/")
ROUTES = routes()
CASES = sorted((route.name, method) for route in ROUTES for method in route.methods)


@pytest.fixture(scope="module", autouse=True)
def matrix_media(tmp_path_factory):
    """What an allowed upload stores (the MLflow artifact PUT streams to disk before its row, which
    each case rolls back) goes to a throwaway folder, not var/media."""
    from django.test import override_settings

    with override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("media")):
        yield


@pytest.fixture(scope="module")
def scenario(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        users = {actor: UserFactory(username=name, groups=groups) for actor, (name, groups) in GROUPS.items()}
        reviewer, pipeline, agent = users["reviewer"], users["pipeline"], users["agent"]
        model = RegisteredModelFactory(name="upsell", owner=reviewer)
        v1 = ModelVersionFactory(model=model, created_by=pipeline)
        ModelVersionFactory(model=model, created_by=pipeline)
        run = TrainingRunFactory(run_id="ab" * 16)
        promotion = PromotionRequest.objects.create(
            model=model, version=v1, reason="nightly", submitted_by=pipeline, state="awaiting_approval"
        )
        audit = AuditJobFactory(model=model, version=v1, created_by=pipeline, kind=AuditKind.BATCH)
        alert = AlertFactory(model=model, first_job=audit)
        AuditSuiteFactory(model=model)
        schedule = AuditScheduleFactory(model=model, actor=reviewer)
        for name in ("home", "search", "email"):
            SurfaceFactory(name=name)
        entry = BlacklistEntryFactory(entity_id="sku-1", note="ticket SUP-1182")
        privacy = PrivacyRequestFactory(actor=agent, entity_id="cust-42")
        bulk = support_services.bulk_preview(
            actor=agent,
            kind="blacklist",
            file=_csv(),
            entity_type="product",
            reason="fraud",
            note="",
            all_surfaces=True,
        )
        explanation = Explanation.objects.create(version=v1, input_key="ab" * 32, input={}, created_by=agent)
        relabel_item = RelabelItemFactory(campaign__model=model, campaign__created_by=reviewer)
        relabel_schedule = RelabelSchedule.objects.create(
            model=model, name="weekly", every_hours=168, design={"kind": "uniform", "rate": 0.1}, created_by=reviewer
        )
        pks = {
            "promotion": promotion.pk,
            "audit": audit.pk,
            "alert": alert.pk,
            "entry": entry.pk,
            "bulk": bulk.pk,
            "privacy": privacy.pk,
            "explanation": explanation.pk,
            "campaign": relabel_item.campaign_id,
            "relabel_item": relabel_item.pk,
            "relabel_schedule": relabel_schedule.pk,
        }
        values = {
            "name": model.name,
            "version": v1.version,
            "number": v1.version,
            "alias": "production",
            "run_id": run.run_id,
            "artifact_path": f"{run.experiment_id}/{run.run_id}/artifacts/notes.txt",
            "model_id": "m-" + "cd" * 16,  # an MLflow logged model's id (none needed: roles are checked first)
            "tag_key": "team",
            "key": "loss",
            "plot": "roc",
            "column": "plan",
            "schedule_name": schedule.name,
        }
        yield {"users": users, "pks": pks, "values": values}
        transaction.set_rollback(True)


def _csv():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("ids.csv", b"entity_id\nsku-9\n")


PK_OF = [
    (r"relabel-schedule", "relabel_schedule"),
    (r"relabel-campaign", "campaign"),
    (r"relabel-item", "relabel_item"),
    (r"^relabel:", "campaign"),
    (r"promotion|^promotions:", "promotion"),
    (r"^audits(-api)?:(audit-|detail|plot)", "audit"),
    (r"^audits(-api)?:alert-", "alert"),
    (r"entry-", "entry"),
    (r"bulk-", "bulk"),
    (r"privacy-detail", "privacy"),
    (r"explanation", "explanation"),
]


def url_for(route, scenario) -> str:
    if route.pattern is None:
        return "/" + route.admin_prefix
    kwargs = {}
    for name in route.pattern.pattern.converters:
        if name == "pk":
            owner = next(kind for pattern, kind in PK_OF if re.search(pattern, route.name))
            kwargs[name] = scenario["pks"][owner]
        else:
            kwargs[name] = scenario["values"][name]
    return reverse(route.name, kwargs=kwargs)


def client_for(actor, scenario) -> APIClient:
    """Every actor as it really calls: pipelines with their token, people with a session. All send a
    CSRF token, so the matrix tests roles, not CSRF."""
    client = APIClient(enforce_csrf_checks=True)
    csrf = get_random_string(32)
    client.cookies["csrftoken"] = csrf
    headers = {"HTTP_X_CSRFTOKEN": csrf}
    user = scenario["users"].get(actor)
    if actor == "pipeline":
        headers["HTTP_AUTHORIZATION"] = f"Token {Token.objects.get_or_create(user=user)[0].key}"
    elif user is not None:
        client.force_login(user)
    client.credentials(**headers)
    return client


def denied(response) -> bool:
    if response.status_code in (401, 403):
        return True
    if response.status_code in (301, 302):
        target = urlsplit(response["Location"])
        return target.path in LOGIN_PATHS and "next=" in target.query
    return False


def test_every_route_and_method_has_a_row():
    missing = [case for case in CASES if case not in TABLE]
    assert not missing, f"add these (url name, method) rows to tests/mlops/permission_table.py: {missing}"


def test_every_row_is_a_route():
    assert not set(TABLE) - set(CASES), "rows for routes that no longer exist"


@pytest.mark.django_db  # inside the module's scenario: each test is a savepoint in its transaction
@pytest.mark.parametrize("name,method", CASES)
def test_each_actor_gets_the_answer_of_the_table(scenario, django_db_blocker, name, method):
    route = next(r for r in ROUTES if r.name == name)
    allowed = TABLE.get((name, method))
    if allowed is None:
        pytest.fail(f"no row for {name} {method}")
    wrong = []
    with django_db_blocker.unblock():
        url = url_for(route, scenario)
        for actor in ACTORS:
            with transaction.atomic():
                response = getattr(client_for(actor, scenario), method.lower())(url)
                transaction.set_rollback(True)
            expected = "allowed" if actor in allowed else "denied"
            got = "denied" if denied(response) else "allowed"
            if got != expected:
                wrong.append(f"{actor}: expected {expected}, got {response.status_code}")
    assert not wrong, f"{method} {url}: " + "; ".join(wrong)
