"""The support desk's chapter: the serving surfaces, this month's blacklists and boost, a privacy
request whose erasure reaches the serving logs, and the explanation of a high-scored customer."""

from datetime import timedelta

from django.utils import timezone

from audits.models import PredictionLog
from registry.models import RegisteredModel
from support import services as support_services
from support.models import ListEntry, Surface

from . import soom


def explainable_customer(model, pipeline, *, say):
    """v1's explainer background, sampled from its training data, and the explanation of a
    customer v1 scored high in its serving logs, computed now so the demo page opens at once.
    Safe to run again: the background is kept and the explanation is answered from the cache."""
    v1 = model.versions.filter(version=1).first()
    if v1 is None:
        return
    background = support_services.explainer_background_from_reference(version=v1)
    if background is not None:
        say(f"Explainer background of v1: {background.source}.")
    production = support_services.production_version(model)
    if production is None:
        return
    names = [feature["name"] for feature in production.feature_schema]
    # The healthy part of the week (the new parser's rows lack meeting_minutes), highest score first.
    logged = (
        PredictionLog.objects.filter(model=model, version=v1, erased_at__isnull=True, score__isnull=False)
        .exclude(entity_id="")
        .order_by("-score", "entity_id")
        .only("entity_id", "features", "score")
    )
    customer = next((row for row in logged[:200] if all(row.features.get(name) is not None for name in names)), None)
    if customer is None:
        return
    explanation = support_services.explanation_request(actor=pipeline, model=model, entity_id=customer.entity_id)
    reasons = (explanation.result or {}).get("reasons") or []
    say(
        f"Explainable customer {customer.entity_id} (v1 scored {customer.score:.2f}; explanation "
        f"#{explanation.pk} {explanation.state}{': ' + reasons[0] if reasons else ''})."
    )
    say(f"Explain a decision: /support/explain/?entity_id={customer.entity_id}")


def lists(agent, *, say):
    """What the support desk did this month: surfaces, a fraud blacklist on outreach, an
    inappropriate product pulled from recommendations, a cold-start boost, and a privacy request
    whose erasure reaches the serving logs. Skipped when the lists already have entries."""
    if ListEntry.objects.exists():
        return
    model = RegisteredModel.objects.get(name=soom.MODEL_NAME)
    for name, description in soom.SURFACES.items():
        if not Surface.objects.filter(name=name).exists():
            support_services.surface_create(name=name, description=description, model=model)
    now = timezone.now()
    support_services.blacklist_add(
        actor=agent,
        entity_type="customer",
        entity_id="C000042",
        reason="fraud",
        note="Chargebacks on three cards; ticket SUP-1182.",
        surfaces=["upsell-email"],
    )
    support_services.blacklist_add(
        actor=agent,
        entity_type="product",
        entity_id="addon-party-pack",
        reason="inappropriate",
        note="Novelty backgrounds flagged in a school account.",
        all_surfaces=True,
        expires_at=now + timedelta(days=90),
    )
    support_services.boost_add(
        actor=agent,
        entity_type="product",
        entity_id="plan-webinar-pro",
        weight=1.5,
        reason="cold_start",
        note="New plan launched 2026-11-20: two weeks of lift.",
        surfaces=["in-app-upgrade"],
        expires_at=now + timedelta(days=14),
    )
    logged = (
        model.predictions.exclude(entity_id="")
        .order_by("score", "entity_id")
        .values_list("entity_id", flat=True)
        .first()
    )
    if logged:
        request = support_services.privacy_request_create(
            actor=agent, entity_id=logged, reference="DSR-2026-311", note="Customer asked to be forgotten by email."
        )
        say(f"Privacy request #{request.pk} for {logged}: blacklisted everywhere, logs erased.")
    say("Support lists: 2 blacklists, 1 boost; serving systems poll /api/v1/support/lists?surface=…")
