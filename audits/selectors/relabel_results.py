"""Reads of what relabelling produces: the live estimate per model version (computed and stored),
the trend of stored estimates across a model's campaigns, error patterns among settled items, and
the corrected labels a pipeline exports."""

import hashlib
import json
from collections.abc import Iterator

import numpy as np
import pandas as pd
from django.contrib.auth import get_user_model

from registry import selectors as registry_selectors

from ..engine import relabel as engine
from ..engine.relabel.patterns import error_patterns
from ..models import RelabelAdjudication, RelabelCampaign, RelabelEstimate, RelabelItem
from .relabel import ResolutionSource, _estimate_dict, campaign_resolutions

__all__ = [
    "EXPORT_COLUMNS",
    "campaign_error_patterns",
    "campaign_estimates_now",
    "campaign_label_rows",
    "campaign_latest_estimate",
    "campaign_latest_estimates",
    "estimate_as_dict",
    "model_estimate_trend",
]

EXPORT_CHUNK = 2000
EXPORT_COLUMNS = [
    "campaign_id",
    "campaign_name",
    "prediction_id",
    "request_id",
    "version",
    "predicted_at",
    "predicted_label",
    "score",
    "corrected_label",
    "source",
    "labellers",
    "answers",
    "agreement",
    "adjudicated_by",
    "relabelled",
]


def _settled_rows(campaign: RelabelCampaign) -> list[tuple]:
    """(item id, version id, predicted label, inclusion probability, stratum, settled label) of every
    settled item (never an erased person's: withdrawn items are not resolved)."""
    settled = {pk: r.label for pk, r in campaign_resolutions(campaign).items() if r.settled}
    rows = (
        RelabelItem.objects.filter(pk__in=settled.keys(), prediction__erased_at__isnull=True)
        .order_by("pk")
        .values_list("pk", "prediction__version_id", "prediction__label", "inclusion_probability", "stratum")
    )
    return [(*row, settled[row[0]]) for row in rows]


def _domain_population(campaign: RelabelCampaign, rows: int, settled_total: int) -> int:
    return max(rows, round(campaign.population * rows / max(settled_total, 1)))


def _estimate(campaign: RelabelCampaign, rows: list[tuple], *, whole: bool, settled_total: int = 0) -> dict:
    predicted = np.array([row[2] for row in rows], dtype=object)
    truth = np.array([row[5] for row in rows], dtype=object)
    probability = np.array([row[3] for row in rows], dtype=float)
    options = {
        # One version's items are a domain of the campaign's sample: the design weights (1/π) still
        # estimate it honestly, but its own population is only known in proportion.
        "population": campaign.population if whole else _domain_population(campaign, len(rows), settled_total),
        "stratum": np.array([row[4] for row in rows], dtype=object),
        "design_kind": campaign.design.get("kind", "uniform"),
        "stratum_population": (campaign.stratum_population or None) if whole else None,
    }
    correct = predicted == truth
    digest = hashlib.sha256(json.dumps([[row[0], row[5]] for row in rows]).encode()).hexdigest()
    return {
        "settled": len(rows),
        "wrong": int((~correct).sum()),
        "fingerprint": digest,
        "accuracy": _estimate_dict(engine.accuracy(correct, probability, **options)),
        "error_rate": _estimate_dict(engine.error_rate(correct, probability, **options)),
        "per_class": {
            label: {measure: _estimate_dict(value) for measure, value in measures.items()}
            for label, measures in engine.per_class(predicted, truth, probability, **options).items()
        },
    }


def campaign_estimates_now(campaign: RelabelCampaign) -> dict:
    """The estimate computed from the items settled now: {None: the whole campaign, version id: that
    version's} (versions only when the campaign's items come from several). Empty before any item
    is settled."""
    if not campaign.population:
        return {}
    rows = _settled_rows(campaign)
    if not rows:
        return {}
    versions = sorted({row[1] for row in rows})
    found = {None: {**_estimate(campaign, rows, whole=True), "versions": versions}}
    if len(versions) > 1:
        for version_id in versions:
            found[version_id] = _estimate(
                campaign, [row for row in rows if row[1] == version_id], whole=False, settled_total=len(rows)
            )
    return found


def estimate_as_dict(estimate: RelabelEstimate) -> dict:
    return {
        "version": estimate.version.version if estimate.version_id else None,
        "computed_at": estimate.computed_at,
        "settled": estimate.settled,
        "wrong": estimate.wrong,
        "method": estimate.method,
        "accuracy": {"value": estimate.accuracy, "low": estimate.accuracy_low, "high": estimate.accuracy_high},
        "error_rate": {
            "value": estimate.error_rate,
            "low": estimate.error_rate_low,
            "high": estimate.error_rate_high,
        },
        "per_class": estimate.per_class,
        "minimum": estimate.minimum,
        "degraded": estimate.degraded,
    }


def campaign_latest_estimate(campaign: RelabelCampaign) -> RelabelEstimate | None:
    """The newest stored estimate of the whole campaign (one indexed row, whatever the history)."""
    return RelabelEstimate.objects.filter(campaign=campaign, version__isnull=True).first()


def campaign_latest_estimates(campaign: RelabelCampaign) -> list[RelabelEstimate]:
    """The newest stored estimate of the whole campaign first, then of each version it covers."""
    latest: dict[int | None, RelabelEstimate] = {}
    for estimate in RelabelEstimate.objects.filter(campaign=campaign).select_related("version"):
        latest.setdefault(estimate.version_id, estimate)  # newest first
    return sorted(latest.values(), key=lambda e: (e.version_id is not None, e.version.version if e.version_id else 0))


def model_estimate_trend(model) -> list[dict]:
    """Per campaign of the model (oldest first), its latest stored estimate per version, with the
    version's offline hold-out accuracy beside it (the gate's, else the recorded one)."""
    latest: dict[tuple[int, int | None], RelabelEstimate] = {}
    estimates = (
        RelabelEstimate.objects.filter(campaign__model=model)
        .select_related("campaign", "version")
        .order_by("-computed_at", "-pk")
    )
    for estimate in estimates:
        latest.setdefault((estimate.campaign_id, estimate.version_id), estimate)
    campaigns = {c for c, _ in latest}
    # A campaign of one version gets only the whole-campaign estimate: its version is that version.
    version_of = dict(
        RelabelItem.objects.filter(campaign_id__in=campaigns)
        .order_by()
        .values_list("campaign_id", "prediction__version_id")
        .distinct()
    )
    multi = {c for c, v in latest if v is not None}
    holdouts: dict[int, dict | None] = {}
    points = []
    for (campaign_id, version_id), estimate in latest.items():
        if version_id is None and campaign_id in multi:
            continue
        version = estimate.version
        if version is None and version_of.get(campaign_id):
            version = model.versions.get(pk=version_of[campaign_id])
        if version is not None and version.pk not in holdouts:
            holdouts[version.pk] = registry_selectors.holdout_metric(version, "accuracy")
        points.append(
            {
                "campaign_id": campaign_id,
                "campaign": estimate.campaign.name,
                "filters": estimate.campaign.filters,  # a segment's estimate is that segment's, not the model's
                "at": estimate.campaign.drawn_at or estimate.campaign.created_at,
                "version": version.version if version else None,
                "accuracy": estimate.accuracy,
                "low": estimate.accuracy_low,
                "high": estimate.accuracy_high,
                "holdout": (holdouts.get(version.pk) or {}).get("value") if version else None,
            }
        )
    return sorted(points, key=lambda p: (p["at"], p["campaign_id"], p["version"] or 0))


def campaign_error_patterns(campaign: RelabelCampaign, *, alpha: float = 0.05) -> pd.DataFrame:
    """Feature values over-represented among the errors of the settled items (see the engine)."""
    rows = _settled_rows(campaign)
    if not rows:
        return error_patterns(pd.DataFrame(), [])
    features = dict(RelabelItem.objects.filter(pk__in=[r[0] for r in rows]).values_list("pk", "prediction__features"))
    frame = pd.DataFrame([features[r[0]] or {} for r in rows])
    for column in frame.columns:  # numbers logged as JSON numbers stay numbers; the rest are categories
        converted = pd.to_numeric(frame[column], errors="coerce")
        if converted.notna().sum() == frame[column].notna().sum():
            frame[column] = converted
    wrong = np.array([r[2] != r[5] for r in rows], dtype=bool)
    return error_patterns(frame, wrong, alpha=alpha)


def _answers_by_item(item_ids: list[int]) -> tuple[dict, dict]:
    from ..models import RelabelAnswer

    answers: dict[int, dict[int, str]] = {}
    for item_id, labeller_id, label in (
        RelabelAnswer.objects.filter(item_id__in=item_ids).order_by("pk").values_list("item_id", "labeller_id", "label")
    ):
        answers.setdefault(item_id, {})[labeller_id] = label
    leads: dict[int, int] = {}
    for item_id, lead_id in (
        RelabelAdjudication.objects.filter(item_id__in=item_ids).order_by("pk").values_list("item_id", "lead_id")
    ):
        leads[item_id] = lead_id
    return answers, leads


def campaign_label_rows(campaign: RelabelCampaign) -> Iterator[dict]:
    """The corrected label of every settled item, with its provenance (EXPORT_COLUMNS), in chunks so
    a big campaign is never all in memory. Erased people's predictions are never listed."""
    resolutions = {pk: r for pk, r in campaign_resolutions(campaign).items() if r.settled}
    ids = sorted(resolutions)
    names: dict[int, str] = {}
    users = get_user_model().objects
    for start in range(0, len(ids), EXPORT_CHUNK):
        chunk = ids[start : start + EXPORT_CHUNK]
        answers, leads = _answers_by_item(chunk)
        wanted = {u for a in answers.values() for u in a} | set(leads.values())
        missing = wanted - names.keys()
        if missing:
            names.update(users.filter(pk__in=missing).values_list("pk", "username"))
        items = (
            RelabelItem.objects.filter(pk__in=chunk, prediction__erased_at__isnull=True, withdrawn_at__isnull=True)
            .order_by("pk")
            .values_list(
                "pk",
                "prediction_id",
                "prediction__request_id",
                "prediction__version__version",
                "prediction__predicted_at",
                "prediction__label",
                "prediction__score",
            )
        )
        for pk, prediction_id, request_id, version, predicted_at, predicted, score in items:
            resolution = resolutions[pk]
            given = answers.get(pk, {})
            order = sorted(given, key=lambda u: names.get(u, ""))
            agreeing = sum(1 for label in given.values() if label == resolution.label)
            yield {
                "campaign_id": campaign.pk,
                "campaign_name": campaign.name,
                "prediction_id": prediction_id,
                "request_id": request_id,
                "version": version,
                "predicted_at": predicted_at,
                "predicted_label": predicted,
                "score": score,
                "corrected_label": resolution.label,
                "source": resolution.source,
                "labellers": ";".join(names.get(u, str(u)) for u in order),
                "answers": ";".join(given[u] for u in order),
                "agreement": agreeing / len(given) if given else None,
                "adjudicated_by": names.get(leads[pk], "")
                if resolution.source == ResolutionSource.ADJUDICATED and pk in leads
                else "",
                "relabelled": resolution.label != predicted,
            }
