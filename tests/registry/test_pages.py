"""Reviewer pages of the registry, through Django's test client."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from registry import services
from registry.models import RunParam
from tests.factories import ModelVersionFactory, RegisteredModelFactory, TrainingRunFactory
from tests.registry.pages_scenario import NEW_COMMIT, OLD_COMMIT, upsell_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def upsell(reviewer, pipeline, second_reviewer):
    return upsell_model(owner=reviewer, registered_by=pipeline, mover=second_reviewer)


def diff_url(model_name: str, **params) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"{reverse('registry:version-diff', args=[model_name])}?{query}"


def diff_row(html: str, key: str) -> str:
    """The <tr> of one config key in the diff table."""
    match = re.search(
        r'<tr class="diff-row [^"]*"[^>]*>\s*<th scope="row"><code>' + re.escape(key) + r"</code></th>.*?</tr>",
        html,
        re.S,
    )
    assert match, f"no diff row for {key}"
    return match.group(0)


# --- access ---------------------------------------------------------------------------------------

REGISTRY_PAGES = [
    ("registry:model-list", []),
    ("registry:model-detail", ["soom-upsell"]),
    ("registry:version-diff", ["soom-upsell"]),
    ("registry:version-detail", ["soom-upsell", 1]),
]


@pytest.mark.parametrize("url_name, args", REGISTRY_PAGES)
def test_anonymous_visitors_are_sent_to_login(upsell, url_name, args):
    url = reverse(url_name, args=args)
    response = Client().get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login")) and "next=" in response.url


@pytest.mark.parametrize("url_name, args", REGISTRY_PAGES)
def test_a_signed_in_user_without_a_keel_role_is_refused(upsell, outsider, client_as, url_name, args):
    assert client_as(outsider).get(reverse(url_name, args=args)).status_code == 403


@pytest.mark.parametrize("actor", ["reviewer", "agent", "labeller", "pipeline"])
def test_every_keel_role_can_read_the_registry(upsell, client_as, request, actor):
    assert client_as(request.getfixturevalue(actor)).get(reverse("registry:model-list")).status_code == 200


def test_login_page_shows_a_wrong_password(reviewer):
    response = Client().post(reverse("login"), {"username": reviewer.username, "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_login_with_the_right_password_lands_on_the_model_list(reviewer):
    response = Client().post(
        reverse("login"), {"username": reviewer.username, "password": "correct-horse-battery"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("registry:model-list")
    assert "rita-reviewer" in response.content.decode()


def test_sign_out_is_a_post_form_with_csrf(reviewer, client_as):
    html = client_as(reviewer).get(reverse("registry:model-list")).content.decode()
    assert re.search(
        r'<form method="post" action="/accounts/logout/"[^>]*>\s*<input type="hidden" '
        r'name="csrfmiddlewaretoken"',
        html,
    )


# --- model list -----------------------------------------------------------------------------------


def test_model_list_shows_production_version_and_refresh_age(upsell, reviewer, client_as):
    RegisteredModelFactory(name="churn-risk", owner=reviewer)  # no versions, no production
    response = client_as(reviewer).get(reverse("registry:model-list"))
    html = response.content.decode()
    upsell_row = re.search(r"<tr>\s*<td><a [^>]*>soom-upsell</a>.*?</tr>", html, re.S).group(0)
    assert 'href="/models/soom-upsell/"' in upsell_row
    assert "Binary classification" in upsell_row
    assert "rita-reviewer" in upsell_row
    assert '<span class="badge alias-production">v2</span>' in upsell_row
    assert "3\xa0days ago" in upsell_row  # v2 was registered 3 days and 2 hours ago
    assert "Which free-tier signups upgrade" in upsell_row
    churn_row = re.search(r"<tr>\s*<td><a [^>]*>churn-risk</a>.*?</tr>", html, re.S).group(0)
    assert "none" in churn_row and "never" in churn_row


def test_model_list_has_an_empty_state(reviewer, client_as):
    assert "No models registered yet" in client_as(reviewer).get(reverse("registry:model-list")).content.decode()


# --- model detail ---------------------------------------------------------------------------------


def test_detail_shows_the_version_timeline_newest_first(upsell, reviewer, client_as):
    model, v1, v2 = upsell
    html = client_as(reviewer).get(reverse("registry:model-detail", args=[model.name])).content.decode()
    assert html.index('id="v2"') < html.index('id="v1"')
    v2_item = html[html.index('id="v2"') : html.index('id="v1"')]
    assert '<span class="badge alias-production">production</span>' in v2_item
    assert "nightly-pipeline" in v2_item
    assert f'<code title="{NEW_COMMIT}">{NEW_COMMIT[:10]}</code>' in v2_item
    assert re.search(r"2026-03-01</span> – <span [^>]*>2026-09-30", v2_item)
    assert "s3://soom/signups/2026-06.parquet" in v2_item
    assert "0.42" in v2_item
    assert "not attached" in v2_item
    v1_item = html[html.index('id="v1"') :]
    assert '<span class="badge alias-shadow">shadow</span>' in v1_item.split("</li>")[0]
    # Current aliases in the header.
    assert re.search(r'alias-production">production</span> → <a [^>]*>v2</a>', html)


def test_detail_shows_the_alias_history_with_who_and_why(upsell, reviewer, client_as):
    model, _, _ = upsell
    html = client_as(reviewer).get(reverse("registry:model-detail", args=[model.name])).content.decode()
    history = html[html.index("Alias history") :]
    assert "Retrained on fresher signups; AUC up 3 points" in history
    assert "First model goes live" in history
    assert "sam-reviewer" in history
    assert re.search(r"v1 → v2", history)
    assert re.search(r'<span class="muted">unset</span> → v1', history)
    # Newest move first.
    assert history.index("Keep v1 for comparison") < history.index("Retrained") < history.index("First model")


def test_detail_shows_the_metrics_table_across_versions(upsell, reviewer, client_as):
    model, _, _ = upsell
    response = client_as(reviewer).get(reverse("registry:model-detail", args=[model.name]))
    html = response.content.decode()
    table = html[html.index("Metrics across versions") : html.index("Alias history")]
    headers = re.findall(r'<th class="num">([^<]+)</th>', table)
    assert headers == ["precision", "recall", "roc_auc"]
    rows = re.findall(r"<tr><th scope=\"row\">.*?</tr>", table, re.S)
    assert [re.findall(r'<td class="num">([^<]+)</td>', row) for row in rows] == [
        ["0.66", "0.58", "0.843"],
        ["0.61", "—", "0.812"],  # v1 had no recall
    ]


def test_detail_compare_form_preselects_the_two_newest_versions(upsell, reviewer, client_as):
    model, _, _ = upsell
    html = client_as(reviewer).get(reverse("registry:model-detail", args=[model.name])).content.decode()
    assert f'action="{reverse("registry:version-diff", args=[model.name])}"' in html
    assert re.search(r'<select name="left"[^>]*>.*?<option value="1" selected>', html, re.S)
    assert re.search(r'<select name="right"[^>]*>\s*<option value="2" selected>', html, re.S)


def test_detail_shows_the_latest_artifact_check(reviewer, client_as, pipeline):
    version = ModelVersionFactory(
        created_by=pipeline,
        artifact="artifacts/x/v1/model.pkl",
        artifact_sha256="ab" * 32,
        artifact_size=2048,
        artifact_format="skops",
    )
    version.artifact_checks.create(ok=True, computed_sha256="ab" * 32)
    html = client_as(reviewer).get(reverse("registry:model-detail", args=[version.model.name])).content.decode()
    assert "abababababab" in html and "2.0\xa0KB" in html and "verified" in html


def test_unknown_model_is_404(reviewer, client_as):
    client = client_as(reviewer)
    assert client.get(reverse("registry:model-detail", args=["nope"])).status_code == 404
    assert client.get(diff_url("nope", left=1, right=2)).status_code == 404


# --- config diff ----------------------------------------------------------------------------------


def test_diff_shows_each_kind_of_change(upsell, reviewer, client_as):
    model, _, _ = upsell
    response = client_as(reviewer).get(diff_url(model.name, left=1, right=2))
    assert response.status_code == 200
    html = response.content.decode()

    threshold = diff_row(html, "decision_threshold")
    assert 'class="diff-row changed"' in threshold and "0.5" in threshold and "0.42" in threshold
    assert 'class="diff-row changed"' in diff_row(html, "learning_rate")
    assert 'class="diff-row added"' in diff_row(html, "n_estimators")
    assert 'class="diff-row same"' in diff_row(html, "max_depth")
    event_type = diff_row(html, "event_type")
    assert 'class="diff-row added"' in event_type and "string, categorical" in event_type
    commit = diff_row(html, "code_commit")
    assert 'class="diff-row changed"' in commit and OLD_COMMIT in commit and NEW_COMMIT in commit
    assert 'class="diff-row added"' in diff_row(html, "recall")

    # Summary: threshold, window start+end, commit, training_run, learning_rate, n_estimators,
    # event_type, precision, recall, roc_auc.
    assert re.search(r"<strong>11</strong> keys differ", html)
    for section in ("Decision", "Training data", "Code", "Hyperparameters", "Feature schema", "Metrics"):
        assert f"<h2>{section}</h2>" in html


def test_diff_can_hide_unchanged_keys(upsell, reviewer, client_as):
    model, _, _ = upsell
    client = client_as(reviewer)
    everything = client.get(diff_url(model.name, left=1, right=2)).content.decode()
    changes = client.get(diff_url(model.name, left=1, right=2, changes=1)).content.decode()
    assert 'class="diff-row same"' in everything
    assert 'class="diff-row same"' not in changes
    assert "max_depth" not in changes and "flavor" not in changes
    assert "decision_threshold" in changes and "n_estimators" in changes
    assert "Show all keys" in changes and "Show only differences" in everything


@pytest.mark.parametrize(
    "params, message",
    [
        ({}, "Pick the first version to compare."),
        ({"left": 1}, "Pick the second version to compare."),
        ({"left": "abc", "right": 2}, "&#x27;abc&#x27; is not a version of soom-upsell."),
        ({"left": 1, "right": 99}, "&#x27;99&#x27; is not a version of soom-upsell."),
        ({"left": -1, "right": 2}, "&#x27;-1&#x27; is not a version of soom-upsell."),
        ({"left": 2, "right": 2}, "Pick two different versions to compare."),
    ],
)
def test_bad_diff_parameters_show_an_error_not_a_500(upsell, reviewer, client_as, params, message):
    model, _, _ = upsell
    response = client_as(reviewer).get(diff_url(model.name, **params))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="alert error"' in html and message in html
    assert "diff-row" not in html


# --- version detail -------------------------------------------------------------------------------


def test_version_detail_shows_the_full_config_and_its_run(upsell, reviewer, client_as, pipeline):
    model, _, v2 = upsell
    services.version_set_tags(version=v2, actor=pipeline, tags={"team": "growth"})
    services.version_set_tags(version=v2, actor=pipeline, tags={"team": "growth-ml"})
    html = client_as(reviewer).get(reverse("registry:version-detail", args=[model.name, 2])).content.decode()
    assert "n_estimators" in html and "400" in html
    assert "<code>event_type</code>" in html
    assert "growth-ml" in html and ">growth<" not in html  # the newest tag value wins
    assert v2.run.run_id in html and "RUNNING" in html
    assert re.search(r"<code>roc_auc</code></th><td class=\"value\">0.843</td>", html)  # step 2 wins
    assert re.search(r"<code>learning_rate</code></th><td class=\"value\">0.05</td>", html)


def test_version_detail_404s_for_an_unknown_version(upsell, reviewer, client_as):
    assert client_as(reviewer).get(reverse("registry:version-detail", args=["soom-upsell", 9])).status_code == 404


# --- admin ----------------------------------------------------------------------------------------


@pytest.fixture
def admin_reviewer(reviewer, client_as):
    reviewer.is_staff = reviewer.is_superuser = True
    reviewer.save()
    return client_as(reviewer)


@pytest.fixture
def param(pipeline):
    run = TrainingRunFactory(created_by=pipeline)
    return RunParam.objects.create(run=run, key="learning_rate", value="0.1")


def test_admin_shows_a_run_param_read_only(admin_reviewer, param):
    response = admin_reviewer.get(reverse("admin:registry_runparam_change", args=[param.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="value"' not in html and "_save" not in html
    assert "0.1" in html


def test_admin_refuses_to_change_or_delete_a_run_param(admin_reviewer, param):
    change = admin_reviewer.post(
        reverse("admin:registry_runparam_change", args=[param.pk]),
        {"key": "learning_rate", "value": "0.9", "run": param.run_id},
    )
    assert change.status_code == 403
    delete = admin_reviewer.post(reverse("admin:registry_runparam_delete", args=[param.pk]), {"post": "yes"})
    assert delete.status_code == 403
    bulk = admin_reviewer.post(
        reverse("admin:registry_runparam_changelist"),
        {"action": "delete_selected", "_selected_action": [param.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    param.refresh_from_db()
    assert param.value == "0.1"
    assert admin_reviewer.get(reverse("admin:registry_runparam_add")).status_code == 403


@pytest.mark.parametrize(
    "model_name",
    [
        "modelversion",
        "trainingrun",
        "modelalias",
        "aliasevent",
        "artifactcheck",
        "runmetric",
        "runtag",
        "modelversiontag",
    ],
)
def test_admin_offers_no_add_for_frozen_records(admin_reviewer, model_name):
    assert admin_reviewer.get(reverse(f"admin:registry_{model_name}_add")).status_code == 403
    assert admin_reviewer.get(reverse(f"admin:registry_{model_name}_changelist")).status_code == 200


def test_admin_edits_only_a_models_description(admin_reviewer, upsell):
    model, _, _ = upsell
    url = reverse("admin:registry_registeredmodel_change", args=[model.pk])
    html = admin_reviewer.get(url).content.decode()
    assert 'name="description"' in html and 'name="name"' not in html and 'name="task_type"' not in html
    response = admin_reviewer.post(
        url,
        {
            "description": "Upgrades within 90 days, v2 era.",
            "name": "renamed",
            "task_type": "regression",
            # Read-only inlines still send their management forms.
            **{
                f"{prefix}-{field}": value
                for prefix in ("aliases", "versions", "alias_events")
                for field, value in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"))
            },
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    model.refresh_from_db()
    assert (model.description, model.name, model.task_type) == (
        "Upgrades within 90 days, v2 era.",
        "soom-upsell",
        "binary_classification",
    )
    assert (
        admin_reviewer.post(
            reverse("admin:registry_registeredmodel_delete", args=[model.pk]), {"post": "yes"}
        ).status_code
        == 403
    )


def test_the_model_page_shows_each_time_with_its_zone(upsell, reviewer, client_as):
    model, _, v2 = upsell

    html = client_as(reviewer).get(reverse("registry:model-detail", args=[model.name])).content.decode()

    assert f"{v2.created_at:%Y-%m-%d %H:%M} UTC" in html
    assert not re.search(r">\d{4}-\d\d-\d\d \d\d:\d\d<", html)
