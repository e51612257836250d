"""Promotion governance pages, as reviewers, pipelines and support staff use them.

The requests are made through the services; the gate's verdict is recorded by hand with
`promotion_gate_record` (on_commit never fires under the `db` fixture, so the real gate never runs
and a new request stays "validating" until a test records its evidence).
"""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from registry import selectors, services
from registry.models import PromotionPolicy, PromotionRequest, PromotionState
from tests.artifacts import skops_artifact
from tests.clients import page, section
from tests.factories import ModelVersionFactory, RegisteredModelFactory
from tests.registry.helpers import artifact_file
from tests.registry.promotion_helpers import holdout_for
from tests.registry.promotion_scenario import FAILURE, gate_fails, gate_passes, soom_upsell, submitted

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


@pytest.fixture
def soom(reviewer, second_reviewer, pipeline):
    return soom_upsell(owner=reviewer, registered_by=pipeline, mover=second_reviewer)


@pytest.fixture
def holdout(soom, pipeline):
    return holdout_for(soom[0], pipeline)


@pytest.fixture
def awaiting(soom, holdout, reviewer):
    """Rita asked for v3 → production; the gate passed it against v2."""
    model, v1, v2, v3 = soom
    return gate_passes(submitted(v3, reviewer, holdout=holdout), compared=v2)


def detail_url(request) -> str:
    return reverse("promotions:detail", args=[request.pk])


# --- the queue --------------------------------------------------------------------------------------


def test_a_reviewer_sees_requests_awaiting_approval_first_oldest_first(
    soom, holdout, awaiting, reviewer, second_reviewer, pipeline, client_as
):
    model, v1, v2, v3 = soom
    validating = submitted(v3, pipeline, alias="shadow", reason="Shadow it for a week")
    canary = gate_passes(submitted(v3, pipeline, alias="canary", holdout=holdout, canary_percent=10), compared=None)
    failed = gate_fails(submitted(v1, pipeline, alias="canary", holdout=holdout, canary_percent=5))

    html = page(client_as(second_reviewer), reverse("promotions:queue"))
    waiting = section(html, "awaiting-h")
    assert waiting.index(f"#{awaiting.pk}<") < waiting.index(f"#{canary.pk}<")  # oldest first
    assert "rita-reviewer" in waiting and "<strong>v3</strong> → " in waiting
    assert '<span class="muted">10%</span>' in waiting
    assert "state-awaiting_approval" in waiting
    # Each group's table carries its own id (the browser tests and bookmarks find it by it).
    assert '<table class="data promotions" id="awaiting-requests">' in waiting
    in_progress = section(html, "validating-h")
    assert '<table class="data promotions" id="validating-requests">' in in_progress
    assert f"#{validating.pk}<" in in_progress and 'role="progressbar"' in in_progress
    assert f"#{failed.pk}<" in section(html, "decided-h") and "validation failed" in section(html, "decided-h")
    # The nav says how many wait for a reviewer.
    assert re.search(r'Promotions <span class="nav-count"[^>]*>2</span>', html)


def test_the_queue_filters_by_model_and_state(soom, holdout, awaiting, pipeline, second_reviewer, client_as):
    model, v1, v2, v3 = soom
    other = RegisteredModelFactory(name="churn-risk")
    upload, sha = artifact_file(skops_artifact(10))
    version = services.artifact_attach(version=ModelVersionFactory(model=other), uploaded=upload, sha256=sha)
    churn = submitted(version, pipeline, alias="shadow")

    client = client_as(second_reviewer)
    only_churn = page(client, reverse("promotions:queue") + "?model=churn-risk")
    assert f"#{churn.pk}<" in only_churn and f"#{awaiting.pk}<" not in only_churn
    only_awaiting = page(client, reverse("promotions:queue") + "?state=awaiting_approval")
    assert f"#{awaiting.pk}<" in only_awaiting and f"#{churn.pk}<" not in only_awaiting
    nothing = page(client, reverse("promotions:queue") + "?state=rejected")
    assert "No promotion requests match" in nothing
    unknown = page(client, reverse("promotions:queue") + "?model=nope")
    assert "Select a valid choice" in unknown


# --- the approval page ------------------------------------------------------------------------------


def test_the_approval_page_shows_the_evidence_a_reviewer_needs(awaiting, second_reviewer, client_as):
    html = page(client_as(second_reviewer), detail_url(awaiting))
    assert "Retrained on fresher signups; AUC up" in html
    assert "Compared with production" in html

    checks = section(html, "checks-h")
    assert "3/3 passed" in checks and "No regression vs production" in checks and "better by 0.0180" in checks

    metrics = section(html, "metrics-h")
    roc = re.search(r'<tr class="better primary" data-metric="roc_auc">.*?</tr>', metrics, re.S).group(0)
    assert "0.8610" in roc and "0.8430" in roc and "+0.018" in roc and "0.5000" in roc
    # Log loss went up: worse, because for log loss lower is better.
    assert re.search(r'<tr class="worse" data-metric="log_loss">.*?lower is better.*?worse</span>', metrics, re.S)
    # Recall went up: better; prevalence is a fact about the data, never judged.
    assert '<tr class="better" data-metric="recall">' in metrics
    assert '<tr class="" data-metric="prevalence">' in metrics

    threshold = section(html, "threshold-h")
    assert "Maximise F1" in threshold and "0.3700" in threshold and "0.6100" in threshold
    assert "v3's own" in threshold and "0.4000" in threshold  # the version's own threshold, to compare

    for plot in ("curves", "prediction-diff", "importance"):
        assert f'<img src="/promotions/{awaiting.pk}/plots/{plot}.png"' in html

    diff = section(html, "diff-h")
    assert "6.1%" in diff and "150 no → yes · 94 yes → no" in diff and "0.1210" in diff
    assert "cust-0042" in diff and "+0.29" in diff and "cust-7310" in diff

    importance = section(html, "importance-h")
    assert re.search(
        r'<tr class="jumped">\s*<th scope="row"><code>refund_requested</code>.*?possible leak', importance, re.S
    )

    slices = section(html, "slices-h")
    assert "gap 0.0400" in slices and "worst “team”" in slices and "(too few)" in slices

    assert "not audited" in section(html, "audit-h")

    config = section(html, "config-h")
    assert "full diff v2 → v3" in config and "?left=2&amp;right=3" in config
    assert re.search(r"<code>decision_threshold</code></th>\s*<td[^>]*>0.42</td>\s*<td[^>]*>0.4</td>", config)
    assert "<code>n_estimators</code>" in config
    assert "<code>flavor</code>" not in config  # unchanged rows are left out

    history = section(html, "history-h")
    assert "keel-gate" in history and "Validation passed." in history and "rita-reviewer" in history


def test_the_submitter_sees_no_approve_button_only_cancel(awaiting, reviewer, client_as):
    html = page(client_as(reviewer), detail_url(awaiting))
    assert "You submitted this; another reviewer must approve it." in html
    assert 'aria-label="Approve"' not in html and 'aria-label="Reject"' not in html
    assert f'action="/promotions/{awaiting.pk}/cancel/"' in html


def test_approving_your_own_request_shows_the_four_eyes_rule(awaiting, reviewer, soom, client_as):
    response = client_as(reviewer).post(
        reverse("promotions:approve", args=[awaiting.pk]), {"threshold_choice": "proposed", "comment": "ship it"}
    )
    assert response.status_code == 403
    assert "a different reviewer must approve it (four eyes)" in response.content.decode()
    assert selectors.alias_map(soom[0])["production"] == soom[2]


def test_a_second_reviewer_approves_and_production_moves(awaiting, soom, second_reviewer, client_as):
    model, v1, v2, v3 = soom
    client = client_as(second_reviewer)
    html = page(client, detail_url(awaiting))
    assert 'aria-label="Approve"' in html
    assert re.search(r'value="proposed"[^>]*checked', html)  # the gate's threshold is the default
    assert "Proposed by the gate: 0.37" in html and "v3&#x27;s own: 0.4" in html

    response = client.post(
        reverse("promotions:approve", args=[awaiting.pk]),
        {"threshold_choice": "own", "comment": "Better AUC, flips within limits"},
        follow=True,
    )
    assert response.redirect_chain == [(detail_url(awaiting), 302)]
    html = response.content.decode()
    assert "Approved: production now serves v3." in html
    assert "Approved by sam-reviewer" in html and "Better AUC, flips within limits" in html
    assert "Serving threshold <strong>0.4000</strong>" in html
    assert 'aria-label="Approve"' not in html
    assert selectors.alias_map(model)["production"] == v3
    assert selectors.serving_config(model)["production"]["threshold"] == 0.4


def test_a_custom_threshold_must_be_a_share(awaiting, second_reviewer, client_as):
    response = client_as(second_reviewer).post(
        reverse("promotions:approve", args=[awaiting.pk]), {"threshold_choice": "custom", "custom_threshold": "1.5"}
    )
    assert response.status_code == 400
    assert "Ensure this value is less than or equal to 1" in response.content.decode()
    awaiting.refresh_from_db()
    assert awaiting.state == PromotionState.AWAITING_APPROVAL


def test_stale_evidence_is_refused_with_an_explanation(awaiting, soom, second_reviewer, client_as):
    model, v1, v2, v3 = soom
    services.catalog.alias_point(model=model, alias="production", version=v1, actor=second_reviewer, reason="Emergency")
    response = client_as(second_reviewer).post(
        reverse("promotions:approve", args=[awaiting.pk]), {"threshold_choice": "proposed"}
    )
    assert response.status_code == 409
    assert "its evidence is stale" in response.content.decode()


def test_a_request_that_failed_validation_cannot_be_approved(soom, holdout, pipeline, second_reviewer, client_as):
    model, v1, v2, v3 = soom
    failed = gate_fails(submitted(v3, pipeline, holdout=holdout), compared=v2)
    client = client_as(second_reviewer)
    html = page(client, detail_url(failed))
    assert "Validation failed — this request cannot be approved" in html
    assert FAILURE in html
    assert 'aria-label="Approve"' not in html

    response = client.post(reverse("promotions:approve", args=[failed.pk]), {"comment": "force it"})
    assert response.status_code == 409
    assert "Validation failed: it cannot be approved" in response.content.decode()
    failed.refresh_from_db()
    assert failed.state == PromotionState.VALIDATION_FAILED
    assert selectors.alias_map(model)["production"] == v2


def test_rejecting_needs_a_comment(awaiting, second_reviewer, client_as):
    client = client_as(second_reviewer)
    response = client.post(reverse("promotions:reject", args=[awaiting.pk]), {"comment": "  "})
    assert response.status_code == 400
    assert "Say why you reject it; the submitter reads it." in response.content.decode()

    response = client.post(
        reverse("promotions:reject", args=[awaiting.pk]),
        {"comment": "The refund_requested jump looks like a leak"},
        follow=True,
    )
    html = response.content.decode()
    assert "Rejected by sam-reviewer" in html and "looks like a leak" in html
    awaiting.refresh_from_db()
    assert awaiting.state == PromotionState.REJECTED


def test_the_submitter_cancels_an_open_request(awaiting, reviewer, client_as):
    response = client_as(reviewer).post(
        reverse("promotions:cancel", args=[awaiting.pk]), {"reason": "Found a bug in the features"}, follow=True
    )
    html = response.content.decode()
    assert f"Cancelled request #{awaiting.pk}." in html and "Cancelled by the submitter" in html
    assert "Found a bug in the features" in section(html, "history-h")


def test_someone_else_cannot_cancel_a_request(awaiting, second_reviewer, client_as):
    response = client_as(second_reviewer).post(reverse("promotions:cancel", args=[awaiting.pk]), {})
    assert response.status_code == 403
    assert "Only the submitter cancels a request" in response.content.decode()


def test_a_validating_request_shows_progress_and_reloads_itself(soom, holdout, pipeline, reviewer, client_as):
    model, v1, v2, v3 = soom
    request = submitted(v3, pipeline, holdout=holdout)
    PromotionRequest.objects.filter(pk=request.pk).update(gate_stage="Scoring candidate v3", gate_progress=0.3)
    html = page(client_as(reviewer), detail_url(request))
    assert '<meta http-equiv="refresh" content="3">' in html
    assert 'aria-valuenow="30"' in html and "Scoring candidate v3 · 30%" in html
    assert "Approval opens once validation passes." in html
    assert 'aria-label="Reject"' in html  # a reviewer may stop it early
    # Once decided the page stops reloading.
    gate_passes(request, compared=v2)
    assert "http-equiv" not in page(client_as(reviewer), detail_url(request))


def test_a_shadow_request_without_holdout_explains_its_evidence(soom, pipeline, reviewer, client_as):
    model, v1, v2, v3 = soom
    request = submitted(v3, pipeline, alias="shadow")
    note = "No hold-out data was named: shadow traffic will provide the evidence."
    services.promotion_gate_record(
        promotion_id=request.pk,
        evidence={"note": note},
        failures=[],
        proposed_threshold=None,
        compared_version_id=None,
        blocking=False,
    )
    html = page(client_as(reviewer), detail_url(request))
    assert "shadow traffic will provide the evidence" in html
    assert "<img" not in html
    assert "v2 (production)" in section(html, "config-h")  # a first shadow is compared with production
    assert "Proposed by the gate" not in html and "v3&#x27;s own: 0.4" in html


# --- plots ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("plot", ["curves", "prediction-diff", "importance"])
def test_the_plots_are_pngs_kept_privately(awaiting, second_reviewer, client_as, plot):
    response = client_as(second_reviewer).get(reverse("promotions:plot", args=[awaiting.pk, plot]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert "private" in response["Cache-Control"]


def test_a_plot_the_evidence_cannot_draw_is_not_found(soom, pipeline, reviewer, client_as):
    request = submitted(soom[3], pipeline, alias="shadow")  # still validating: no evidence at all
    client = client_as(reviewer)
    assert client.get(reverse("promotions:plot", args=[request.pk, "curves"])).status_code == 404
    assert client.get(f"/promotions/{request.pk}/plots/heatmap.png").status_code == 404


# --- asking for a promotion -------------------------------------------------------------------------


def test_a_pipeline_requests_a_promotion_with_an_existing_holdout(soom, holdout, pipeline, client_as):
    model, v1, v2, v3 = soom
    client = client_as(pipeline)
    html = page(client, reverse("registry:promotion-new", args=[model.name]))
    versions = re.search(r'<select name="version".*?</select>', html, re.S).group(0)
    assert versions.index(">v3 ") < versions.index(">v2 ") < versions.index(">v1 ")  # newest first
    assert "last week" in html and "Why should it serve?" in html

    response = client.post(
        reverse("registry:promotion-new", args=[model.name]),
        {"version": v3.pk, "target_alias": "production", "holdout": holdout.pk, "reason": "Weekly retrain"},
    )
    request = PromotionRequest.objects.get()
    assert response.status_code == 302 and response.url == detail_url(request)
    assert (request.version, request.target_alias, request.holdout, request.submitted_by) == (
        v3,
        "production",
        holdout,
        PromotionRequest.objects.get().submitted_by,
    )
    assert request.state == PromotionState.VALIDATING


@pytest.mark.parametrize(
    "label, outcomes, positive_label",
    [("upgraded", (b"0", b"1"), ""), ("churn", (b"stayed", b"churned"), "churned")],  # words declare their positive
)
def test_a_new_holdout_is_uploaded_in_the_same_form(soom, pipeline, client_as, label, outcomes, positive_label):
    model, v1, v2, v3 = soom
    content = b"plan,meeting_minutes,%s\nfree,3,%s\nteam,9,%s\n" % (label.encode(), *outcomes)
    response = client_as(pipeline).post(
        reverse("registry:promotion-new", args=[model.name]),
        {
            "version": v3.pk,
            "target_alias": "canary",
            "canary_percent": "10",
            "holdout_file": SimpleUploadedFile("june.csv", content),
            "label_column": label,
            "positive_label": positive_label,
            "reason": "Try it on 10% first",
        },
    )
    assert response.status_code == 302, response.content.decode()
    request = PromotionRequest.objects.get()
    assert request.holdout.name == "june.csv" and request.holdout.label_column == label
    assert request.holdout.positive_label == positive_label
    assert request.canary_percent == 10


def test_request_form_errors_are_shown_on_their_fields(soom, holdout, pipeline, client_as):
    model, v1, v2, v3 = soom
    client = client_as(pipeline)
    url = reverse("registry:promotion-new", args=[model.name])

    missing = client.post(url, {"version": v3.pk, "target_alias": "canary", "reason": ""})
    assert missing.status_code == 400
    html = missing.content.decode()
    assert "Say why this version should serve; reviewers read it." in html
    assert "A canary needs its share of traffic, 1–50%." in html

    no_holdout = client.post(url, {"version": v3.pk, "target_alias": "production", "reason": "r"})
    assert "is validated on hold-out data" in no_holdout.content.decode()  # the service's rule, on the form

    bad_column = client.post(
        url,
        {
            "version": v3.pk,
            "target_alias": "production",
            "reason": "r",
            "holdout_file": SimpleUploadedFile("h.csv", b"a,b\n1,0\n"),
            "label_column": "upgraded",
        },
    )
    assert "The file has no column &#x27;upgraded&#x27;" in bad_column.content.decode()

    already = client.post(url, {"version": v2.pk, "target_alias": "production", "holdout": holdout.pk, "reason": "r"})
    assert already.status_code == 409 and "v2 already serves as production" in already.content.decode()
    assert not PromotionRequest.objects.exists()


def test_an_uploaded_holdout_is_kept_when_the_request_itself_is_refused(soom, pipeline, client_as):
    model, v1, v2, v3 = soom
    response = client_as(pipeline).post(
        reverse("registry:promotion-new", args=[model.name]),
        {
            "version": v2.pk,
            "target_alias": "production",
            "reason": "r",
            "holdout_file": SimpleUploadedFile("june.csv", b"plan,upgraded\nfree,0\nteam,1\n"),
            "label_column": "upgraded",
        },
    )
    html = response.content.decode()
    kept = model.holdouts.get()
    assert "Hold-out &#x27;june.csv&#x27; was registered; it is selected below." in html
    assert re.search(rf'<option value="{kept.pk}" selected>', html)


def test_only_versions_with_an_artifact_can_be_requested(soom, pipeline, client_as):
    model = soom[0]
    ModelVersionFactory(model=model, version=4)  # registered, artifact not uploaded yet
    html = page(client_as(pipeline), reverse("registry:promotion-new", args=[model.name]))
    assert ">v4 " not in html and ">v3 " in html


# --- the model page ---------------------------------------------------------------------------------


def test_the_model_page_shows_serving_health_and_recent_requests(awaiting, soom, second_reviewer, client_as):
    model, v1, v2, v3 = soom
    html = page(client_as(second_reviewer), reverse("registry:model-detail", args=[model.name]))
    serving = section(html, "serving-h")
    assert re.search(
        r'alias-production">production</span></dt>\s*<dd><a [^>]*>v2</a> <span class="muted">'
        r"threshold 0.42",
        serving,
    )
    assert re.search(r">fallback</span></dt>\s*<dd><a [^>]*>v1</a>", serving)
    assert "production trained on data up to 40 days ago; policy limit 90 days" in serving
    assert "health-ok" in serving
    assert "Request promotion" in serving and "Promotion policy" in serving
    requests = section(html, "requests-h")
    assert f"#{awaiting.pk}</a>" in requests and "?model=soom-upsell" in requests
    assert "Roll back production" in requests and '<option value="1" selected>v1</option>' in requests


def test_a_stale_production_model_is_flagged_red(soom, reviewer, client_as):
    model = soom[0]
    services.policy_update(model=model, actor=reviewer, staleness_days=30)
    html = page(client_as(reviewer), reverse("registry:model-detail", args=[model.name]))
    assert "health-bad" in html and "Stale: production trained on data up to 40 days ago; policy limit 30 days" in html


def test_a_reviewer_rolls_production_back_from_the_model_page(awaiting, soom, second_reviewer, client_as):
    model, v1, v2, v3 = soom
    client = client_as(second_reviewer)
    services.promotion_approve(promotion=awaiting, actor=second_reviewer, comment="go")
    assert selectors.alias_map(model)["production"] == v3

    response = client.post(
        reverse("registry:model-rollback", args=[model.name]),
        {"version": "2", "reason": "Support reports wrong upsell offers"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("registry:model-detail", args=[model.name]) + "#serving"
    html = response.content.decode()
    assert "Production rolled back to v2." in html
    assert re.search(r'alias-production">production</span></dt>\s*<dd><a [^>]*>v2</a>', section(html, "serving-h"))
    assert selectors.alias_map(model)["production"] == v2
    awaiting.refresh_from_db()
    assert awaiting.state == PromotionState.ROLLED_BACK


def test_a_rollback_needs_a_reason_and_an_earlier_version(soom, second_reviewer, client_as):
    model = soom[0]
    client = client_as(second_reviewer)
    no_reason = client.post(reverse("registry:model-rollback", args=[model.name]), {"version": "1", "reason": ""})
    assert no_reason.status_code == 400 and "Say why production is rolled back." in no_reason.content.decode()
    current = client.post(reverse("registry:model-rollback", args=[model.name]), {"version": "2", "reason": "x"})
    assert current.status_code == 400
    assert "v2 is not an earlier production version with an artifact." in current.content.decode()
    assert selectors.alias_map(model)["production"] == soom[2]


# --- the policy page --------------------------------------------------------------------------------


def test_a_reviewer_edits_the_policy(soom, reviewer, client_as):
    model = soom[0]
    client = client_as(reviewer)
    html = page(client, reverse("registry:model-policy", args=[model.name]))
    assert "Keel's defaults" in html and 'name="max_flip_rate"' in html

    form = {
        "primary_metric": "pr_auc",
        "max_regression": "0.02",
        "min_margin_over_baseline": "0.05",
        "max_flip_rate": "0.2",
        "slice_columns": "plan, country",
        "min_slice_rows": "100",
        "threshold_rule": "min_recall",
        "threshold_target": "0.6",
        "ranking_k": "10",
        "staleness_days": "60",
    }
    response = client.post(reverse("registry:model-policy", args=[model.name]), form, follow=True)
    assert "Policy saved." in response.content.decode()
    policy = PromotionPolicy.objects.get(model=model)
    assert (
        policy.primary_metric,
        policy.max_flip_rate,
        policy.slice_columns,
        policy.threshold_target,
        policy.updated_by,
    ) == ("pr_auc", 0.2, ["plan", "country"], 0.6, reviewer)


def test_bad_policy_values_are_shown_on_their_fields(soom, reviewer, client_as):
    model = soom[0]
    form = {
        "primary_metric": "roc_auc",
        "max_regression": "0.01",
        "min_margin_over_baseline": "0.02",
        "max_flip_rate": "2",
        "min_slice_rows": "50",
        "threshold_rule": "min_recall",
        "threshold_target": "",
        "ranking_k": "10",
        "staleness_days": "90",
    }
    response = client_as(reviewer).post(reverse("registry:model-policy", args=[model.name]), form)
    assert response.status_code == 400
    html = response.content.decode()
    flip = re.search(r'<div class="field has-error">\s*<label for="id_max_flip_rate">.*?</div>', html, re.S).group(0)
    assert "Ensure this value is less than or equal to 1.0." in flip
    assert not PromotionPolicy.objects.filter(model=model).exists()


def test_agents_neither_read_nor_edit_the_policy(soom, agent, client_as):
    model = soom[0]
    client = client_as(agent)
    assert client.get(reverse("registry:model-policy", args=[model.name])).status_code == 403
    assert client.post(reverse("registry:model-policy", args=[model.name]), {"max_flip_rate": "0.5"}).status_code == 403


# --- who may do what --------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ["agent", "labeller"])
def test_support_and_labellers_neither_read_nor_decide_promotions(awaiting, soom, request, client_as, actor):
    client = client_as(request.getfixturevalue(actor))
    assert client.get(detail_url(awaiting)).status_code == 403
    assert client.get(reverse("promotions:queue")).status_code == 403
    model_page = page(client, reverse("registry:model-detail", args=[soom[0].name]))
    assert "Roll back production" not in model_page and "Request promotion" not in model_page
    assert "Promotion requests" not in model_page and "Promotions</a>" not in model_page
    for url, data in [
        (reverse("promotions:approve", args=[awaiting.pk]), {"threshold_choice": "proposed"}),
        (reverse("promotions:reject", args=[awaiting.pk]), {"comment": "no"}),
        (reverse("promotions:cancel", args=[awaiting.pk]), {}),
        (reverse("registry:model-rollback", args=[soom[0].name]), {"version": "1", "reason": "x"}),
        (reverse("registry:promotion-new", args=[soom[0].name]), {}),
    ]:
        assert client.post(url, data).status_code == 403, url
    awaiting.refresh_from_db()
    assert awaiting.state == PromotionState.AWAITING_APPROVAL


@pytest.mark.parametrize(
    "path",
    [
        "/promotions/",
        "/promotions/{pk}/",
        "/promotions/{pk}/plots/curves.png",
        "/models/soom-upsell/promotions/new/",
        "/models/soom-upsell/policy/",
    ],
)
def test_anonymous_visitors_are_sent_to_login(awaiting, path):
    response = Client().get(path.format(pk=awaiting.pk))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_an_outsider_is_refused(awaiting, outsider, client_as):
    client = client_as(outsider)
    assert client.get(reverse("promotions:queue")).status_code == 403
    assert client.get(detail_url(awaiting)).status_code == 403


def test_decisions_are_posts_with_csrf(awaiting, second_reviewer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(second_reviewer)
    assert client.get(reverse("promotions:approve", args=[awaiting.pk])).status_code == 405
    assert client.post(reverse("promotions:approve", args=[awaiting.pk]), {}).status_code == 403  # no token
    html = page(client, detail_url(awaiting))
    approve = re.search(r'<form method="post" action="/promotions/\d+/approve/".*?</form>', html, re.S).group(0)
    assert 'name="csrfmiddlewaretoken"' in approve


def test_a_reviewer_requests_with_a_pipelines_holdout_but_uploads_none(soom, holdout, reviewer, client_as):
    model, v1, v2, v3 = soom
    client = client_as(reviewer)
    url = reverse("registry:promotion-new", args=[model.name])
    html = page(client, url)
    assert 'name="holdout_file"' not in html
    assert "Hold-outs are registered by the model" in html
    upload = SimpleUploadedFile("june.csv", b"plan,upgraded\nfree,0\nteam,1\n")
    refused = client.post(
        url,
        {
            "version": v3.pk,
            "target_alias": "production",
            "holdout_file": upload,
            "label_column": "upgraded",
            "reason": "r",
        },
    )
    assert refused.status_code == 403 and model.holdouts.count() == 1
    asked = client.post(url, {"version": v3.pk, "target_alias": "production", "holdout": holdout.pk, "reason": "r"})
    assert asked.status_code == 302 and PromotionRequest.objects.get().submitted_by == reviewer


def test_the_promotion_page_shows_each_time_with_its_zone(awaiting, reviewer, client_as):
    html = page(client_as(reviewer), detail_url(awaiting))

    assert f'title="{awaiting.submitted_at:%Y-%m-%d %H:%M} UTC"' in html
    assert re.search(r">\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>", html)
    assert not re.search(r">\d{4}-\d\d-\d\d \d\d:\d\d<", html)
