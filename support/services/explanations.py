"""Explanations: why the production model scored a customer (or typed-in features) as it did.

Every write of the explanations lives here. It shares nothing with the lists' services (blacklists,
boosts, bulk uploads, privacy requests): not their change lock, rate limit or serving cache. The same
rules apply as everywhere: keyword-only, typed, `<noun>_<verb>`, one place where each state changes.

- `explanation_request` resolves the production version and the input (the customer's latest
  logged features, or typed ones), and returns the cached explanation for (version, input) when
  there is one. Otherwise it creates the row and computes it inline when the fast tree path applies
  (milliseconds once the version's explainer is built), or queues the Celery job (model-agnostic
  path: seconds) after the transaction commits.
- `explanation_compute` is the job: idempotent, it records its stage and progress, and ends failed
  with the reason when the input or the version cannot be explained; it never raises into the void.
- `explainer_background_from_reference` / `explainer_background_upload` store the background sample
  with a version; a new background drops the version's finished explanations (they used the old one).
- `explanations_erase` deletes an entity's cached explanations (they hold personal features); the
  privacy erasure calls it (support.services.privacy.entity_data_erase).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from datetime import timedelta
from functools import partial
from typing import Any

import pandas as pd
from django.conf import settings
from django.db import OperationalError as DatabaseOperationalError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from audits import selectors as audit_selectors
from mlops.errors import ApplicationError, Conflict
from registry import selectors as registry_selectors
from registry.models import ModelVersion, RegisteredModel

from .. import shap_engine
from ..models import ExplainerBackground, Explanation, ExplanationState, PrivacyRequest

__all__ = [
    "explanation_request",
    "explanation_compute",
    "explanations_erase",
    "explainer_background_upload",
    "explainer_background_from_reference",
    "production_version",
]

log = logging.getLogger(__name__)

# A background is a sample, not a dataset: enough rows to average over, few enough for the
# model-agnostic explainer (2**features x rows model calls) to stay interactive.
BACKGROUND_ROWS = shap_engine.DEFAULT_BACKGROUND_ROWS
MAX_BACKGROUND_ROWS = settings.KEEL_EXPLAIN_MAX_BACKGROUND_ROWS
MAX_BACKGROUND_BYTES = settings.KEEL_EXPLAIN_MAX_BACKGROUND_BYTES
# A queued or running explanation older than this is assumed lost (worker gone) and queued again
# by the next request for it.
STALE_AFTER = timedelta(minutes=15)
REFERENCE_CHUNK_ROWS = 200_000

FINISHED = (ExplanationState.SUCCEEDED, ExplanationState.FAILED)
IN_PROGRESS = (ExplanationState.QUEUED, ExplanationState.RUNNING)

# artifact sha256 -> whether the version is explained by the tree path (fast enough to run inline).
# Per process; an artifact's bytes never change under its sha256, so the answer never goes stale.
_FAST_PATH: dict[str, bool] = {}


# --- versions and backgrounds ------------------------------------------------------------------------


def production_version(model: RegisteredModel) -> ModelVersion | None:
    return registry_selectors.alias_map(model).get(registry_selectors.PRODUCTION)


def _explainable_version(model: RegisteredModel) -> ModelVersion:
    version = production_version(model)
    if version is None:
        raise ApplicationError(f"'{model.name}' has no production version to explain.", field="model")
    if not version.artifact:
        raise ApplicationError(f"v{version.version} of '{model.name}' has no artifact to explain.", field="model")
    if not version.feature_schema:
        raise ApplicationError(
            f"v{version.version} of '{model.name}' has no feature schema; Keel cannot tell which features it reads.",
            field="model",
        )
    return version


def _records_digest(records: list[dict]) -> str:
    canonical = json.dumps(records, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _store_background(
    *, version: ModelVersion, records: list[dict], source: str, actor=None, keep: int | None = None
) -> ExplainerBackground:
    """Store canonical records as the version's background. When they differ from what was stored,
    the version's finished explanations are deleted (computed against other rows, their base values
    and contributions no longer hold); explanations still in progress read the new rows.
    `keep`: an explanation to spare (the one whose computation built this background)."""
    digest = _records_digest(records)
    current = ExplainerBackground.objects.select_for_update().filter(version=version).first()
    if current is not None and current.sha256 == digest:
        return current
    background, _ = ExplainerBackground.objects.update_or_create(
        version=version,
        defaults={
            "records": records,
            "rows": len(records),
            "sha256": digest,
            "source": source[:500],
            "created_by": actor,
            "created_at": timezone.now(),
        },
    )
    stale = Explanation.objects.filter(version=version, state__in=FINISHED)
    if keep is not None:
        stale = stale.exclude(pk=keep)
    stale.delete()
    return background


@transaction.atomic
def explainer_background_upload(*, version: ModelVersion, actor, records: Any, source: str = "") -> ExplainerBackground:
    """A pipeline's background for a version: JSON records of the schema's features (extra keys are
    dropped, so an id or a label column is never stored), checked value by value and size-limited."""
    if not version.feature_schema:
        raise ApplicationError(f"v{version.version} has no feature schema to check the rows against.", field="records")
    if not isinstance(records, list) or not records:
        raise ApplicationError(
            "Send the background as a non-empty list of records (one object per row).", field="records"
        )
    if len(records) > MAX_BACKGROUND_ROWS:
        raise ApplicationError(
            f"{len(records):,} rows; a background holds at most {MAX_BACKGROUND_ROWS:,} "
            f"(about {BACKGROUND_ROWS} is plenty).",
            field="records",
        )
    size = len(json.dumps(records, default=str))
    if size > MAX_BACKGROUND_BYTES:
        raise ApplicationError(
            f"The records take {size:,} bytes; the limit is {MAX_BACKGROUND_BYTES:,}.", field="records"
        )
    bad = next((i for i, record in enumerate(records, 1) if not isinstance(record, Mapping)), None)
    if bad is not None:
        raise ApplicationError(f"Row {bad} is not an object of feature values.", field="records")
    try:
        frame = shap_engine.background_from_records(records, version.feature_schema)
        canonical = shap_engine.background_to_records(frame, version.feature_schema)
    except ValueError as exc:
        raise ApplicationError(str(exc), field="records") from None
    source = (source or "").strip() or f"{len(canonical)} rows uploaded by {actor.get_username()}"
    return _store_background(version=version, records=canonical, source=source, actor=actor)


def _reference_sample(version: ModelVersion) -> tuple[list[dict], str] | None:
    """A deterministic sample of the version's training reference file, or None when the version has
    no reference. Read chunk by chunk (each chunk sampled, then the samples), so a large training
    file never sits in memory whole."""
    reference = audit_selectors.reference_for(version)
    if reference is None:
        return None
    schema = version.feature_schema
    names = [entry["name"] for entry in schema]
    strings = {entry["name"]: object for entry in schema if entry.get("type") not in shap_engine.NUMERIC_TYPES}
    samples = []
    chunks = audit_selectors.reference_rows_in_chunks(
        version, columns=names, dtypes=strings, chunk_rows=REFERENCE_CHUNK_ROWS
    )
    for chunk in chunks:
        if all(name in chunk.columns for name in names) and chunk[names].notna().all(axis=1).any():
            samples.append(shap_engine.make_background(chunk, names, rows=BACKGROUND_ROWS, seed=0))
    if not samples:
        raise ValueError(
            f"The training reference '{reference.name}' has no row with every feature of v{version.version} filled in."
        )
    frame = shap_engine.make_background(pd.concat(samples, ignore_index=True), names, rows=BACKGROUND_ROWS, seed=0)
    records = shap_engine.background_to_records(frame, schema)
    source = (
        f"{len(records)} rows sampled from v{version.version}'s training data "
        f"'{reference.name}' ({reference.rows:,} rows)"
    )
    return records, source


@transaction.atomic
def explainer_background_from_reference(*, version: ModelVersion, replace: bool = False) -> ExplainerBackground | None:
    """Build the version's background from its training reference file; None when it has no
    reference. Keeps an existing background unless `replace`."""
    if not replace:
        current = ExplainerBackground.objects.filter(version=version).first()
        if current is not None:
            return current
    try:
        sample = _reference_sample(version)
    except ValueError as exc:  # a DataFileError (unreadable file) is a ValueError too
        raise ApplicationError(
            f"No background could be sampled from v{version.version}'s training data: {exc}", field="version"
        ) from None
    if sample is None:
        return None
    records, source = sample
    return _store_background(version=version, records=records, source=source)


def _background_for_compute(version: ModelVersion, explanation_id: int) -> ExplainerBackground | None:
    """The stored background, built from the training reference on first use. A reference that
    cannot be read leaves the version without one (a tree model is then explained in log-odds; the
    model-agnostic path fails with the reason)."""
    background = ExplainerBackground.objects.filter(version=version).first()
    if background is not None:
        return background
    try:
        sample = _reference_sample(version)
    except ValueError as exc:
        log.warning("No explainer background for %s from its training reference: %s", version, exc)
        return None
    if sample is None:
        return None
    with transaction.atomic():
        return _store_background(version=version, records=sample[0], source=sample[1], keep=explanation_id)


def _version_key(version: ModelVersion, background: ExplainerBackground | None) -> str:
    """The explainer cache's key: changes with the artifact's bytes and with the background."""
    return f"{version.artifact_sha256}:{background.sha256 if background else 'no-background'}"


def _load(version: ModelVersion):
    return registry_selectors.artifact_estimator(version)


def _is_fast(version: ModelVersion) -> bool:
    """Whether the version is explained by the tree path (inline) rather than the model-agnostic one
    (a Celery job). Known from an earlier explanation, or from the model's final estimator."""
    known = _FAST_PATH.get(version.artifact_sha256)
    if known is not None:
        return known
    method = (
        Explanation.objects.filter(version=version, state=ExplanationState.SUCCEEDED)
        .values_list("result__method", flat=True)
        .first()
    )
    if method:
        fast = method == "tree"
    else:
        try:
            estimator = _load(version)
        except registry_selectors.ArtifactError as exc:
            raise Conflict(str(exc), field="model") from None
        steps = getattr(estimator, "steps", None)
        final = steps[-1][1] if steps else estimator
        fast = type(final).__name__ in shap_engine.TREE_MODELS
    _FAST_PATH[version.artifact_sha256] = fast
    return fast


def _has_background_source(version: ModelVersion) -> bool:
    return ExplainerBackground.objects.filter(version=version).exists() or audit_selectors.has_reference(version)


# --- inputs ------------------------------------------------------------------------------------------------


def _forgotten(entity_id: str) -> bool:
    """The person asked to be forgotten (erasure done, or filed and pending): never explained again."""
    return (
        audit_selectors.is_erased(entity_id)
        or PrivacyRequest.objects.filter(
            entity_type=settings.KEEL_SUPPORT_PRIVACY_ENTITY_TYPE, entity_id=entity_id
        ).exists()
    )


def _logged_input(model: RegisteredModel, version: ModelVersion, entity_id: str):
    """The features the model saw in the entity's latest logged prediction of this model."""
    if _forgotten(entity_id):
        raise ApplicationError(
            f"{entity_id} asked to be forgotten: their logged data is erased and they are not explained.",
            field="entity_id",
        )
    prediction = audit_selectors.latest_prediction(entity_id=entity_id, model=model)
    if prediction is None:
        raise ApplicationError(
            f"No logged prediction of '{model.name}' for {entity_id}. Check the ID, or type the features instead.",
            field="entity_id",
        )
    logged = prediction.features or {}
    names = [entry["name"] for entry in version.feature_schema]
    missing = [name for name in names if logged.get(name) is None]
    if missing:
        raise ApplicationError(
            f"The prediction logged for {entity_id} on {prediction.predicted_at:%Y-%m-%d %H:%M} has no value for "
            f"{', '.join(missing)} (not sent, or dropped by serving's processing), so the model's view of it "
            "cannot be explained; type the features instead.",
            field="entity_id",
        )
    return prediction, {name: logged[name] for name in names}


def _canonical(values: Mapping, schema: list[dict], *, field: str | None) -> tuple[str, dict]:
    """(input_key, the input as JSON-ready canonical values). A bad value is a 400 on its field:
    `features.<name>` for typed features, or `field` (entity_id) for logged ones."""
    try:
        key = shap_engine.input_key(values, schema)
        record = shap_engine.background_to_records(shap_engine.row_frame(values, schema), schema)[0]
    except shap_engine.ExplainInputError as exc:
        if field is not None:
            raise ApplicationError(f"The logged features cannot be explained: {exc}", field=field) from None
        raise ApplicationError(str(exc), field=f"features.{exc.field}" if exc.field else "features") from None
    return key, record


# --- requests and the job ----------------------------------------------------------------------------------


def _queue(explanation_id: int) -> None:
    from ..tasks import compute_explanation

    try:
        compute_explanation.delay(explanation_id)
    except BrokerUnavailable:
        log.warning("Broker unavailable: explanation %s is queued again by its next request", explanation_id)


def _stale(explanation: Explanation, now) -> bool:
    since = explanation.started_at or explanation.created_at
    return explanation.in_progress and since < now - STALE_AFTER


@transaction.atomic
def explanation_request(
    *, actor, model: RegisteredModel, entity_id: str = "", features: Mapping[str, Any] | None = None
) -> Explanation:
    """Explain the production version's score for a customer's latest logged prediction
    (`entity_id`) or for typed `features` (one value per feature of the schema). Returns the
    explanation: succeeded or failed when it was cached or computed inline, queued when it went to a
    Celery job. The same input asked either way is the same cached row, computed once."""
    version = _explainable_version(model)
    schema = version.feature_schema
    entity_id = (entity_id or "").strip()
    if entity_id and features:
        raise ApplicationError("Give a customer ID or the features, not both.", field="entity_id")
    prediction = None
    if entity_id:
        prediction, values = _logged_input(model, version, entity_id)
        key, record = _canonical(values, schema, field="entity_id")
    elif features:
        if not isinstance(features, Mapping):
            raise ApplicationError("Send the features as an object of feature: value.", field="features")
        key, record = _canonical(features, schema, field=None)
    else:
        raise ApplicationError("Give a customer ID, or type the features to explain.", field="entity_id")

    now = timezone.now()
    cached = Explanation.objects.select_for_update().filter(version=version, input_key=key).first()
    if cached is not None:
        if prediction is not None and not cached.entity_id:
            # Typed first, now asked by ID: the row is the customer's too (a privacy erasure finds it).
            Explanation.objects.filter(pk=cached.pk).update(entity_id=entity_id, prediction=prediction)
            cached.entity_id, cached.prediction = entity_id, prediction
        if cached.state == ExplanationState.SUCCEEDED or (cached.in_progress and not _stale(cached, now)):
            return cached

    fast = _is_fast(version)
    if not fast and not _has_background_source(version):
        raise Conflict(
            f"v{version.version} of '{model.name}' is explained by the model-agnostic explainer, which needs a "
            "background sample stored with the version, and it has none (nor a training reference to sample "
            f"one from). A pipeline can upload one: PUT /api/v1/models/{model.name}/versions/{version.version}/"
            "explainer-background.",
            field="model",
        )

    if cached is None:
        explanation, created = Explanation.objects.get_or_create(
            version=version,
            input_key=key,
            defaults={
                "input": record,
                "entity_id": entity_id,
                "prediction": prediction,
                "created_by": actor,
                "stage": "Queued",
                "created_at": now,
            },
        )
        if not created and (explanation.state == ExplanationState.SUCCEEDED or explanation.in_progress):
            return explanation  # a concurrent request made it first
    else:
        explanation = cached
    if explanation.state == ExplanationState.FAILED or _stale(explanation, now):
        # Asked again: a failed explanation is retried, a lost one queued again.
        Explanation.objects.filter(pk=explanation.pk).update(
            state=ExplanationState.QUEUED,
            stage="Queued",
            progress=None,
            error="",
            result=None,
            finished_at=None,
            started_at=None,
        )
        explanation.refresh_from_db()

    if fast:
        return explanation_compute(explanation_id=explanation.pk)
    transaction.on_commit(partial(_queue, explanation.pk))
    return explanation


def _progress(explanation_id: int, stage: str, share: float) -> None:
    # Outside any transaction when run by the job, so the page shows it while the job runs.
    Explanation.objects.filter(pk=explanation_id, state=ExplanationState.RUNNING).update(stage=stage, progress=share)


def _fail(explanation_id: int, reason: str) -> Explanation | None:
    Explanation.objects.filter(pk=explanation_id, state__in=IN_PROGRESS).update(
        state=ExplanationState.FAILED,
        error=reason[:4000] or "Unknown error.",
        stage="Failed",
        progress=None,
        finished_at=timezone.now(),
    )
    return Explanation.objects.filter(pk=explanation_id).first()


def explanation_compute(*, explanation_id: int) -> Explanation | None:
    """Compute one explanation. Idempotent: a finished one is returned unchanged, a deleted one (its
    entity erased, its background replaced) is None, and a redelivered job finishes it once. An input
    or a version that cannot be explained ends failed with the reason; database hiccups raise (the
    job retries them)."""
    explanation = Explanation.objects.select_related("version__model").filter(pk=explanation_id).first()
    if explanation is None or explanation.state in FINISHED:
        return explanation
    now = timezone.now()
    claimed = Explanation.objects.filter(pk=explanation_id, state__in=IN_PROGRESS).update(
        state=ExplanationState.RUNNING,
        started_at=now,
        attempts=F("attempts") + 1,
        stage="Loading the model and its background",
        progress=0.1,
    )
    if not claimed:
        return Explanation.objects.filter(pk=explanation_id).first()
    version = explanation.version
    model = version.model
    try:
        background = _background_for_compute(version, explanation_id)
        key = _version_key(version, background)
        if shap_engine.is_explainer_cached(key, model.task_type):
            _progress(explanation_id, "Computing the contributions", 0.5)
        else:
            _progress(
                explanation_id,
                f"Building v{version.version}'s explainer (once per version) and computing the contributions",
                0.3,
            )
        result = shap_engine.explain(
            partial(_load, version),
            explanation.input,
            task_type=model.task_type,
            feature_schema=version.feature_schema,
            threshold=registry_selectors.applicable_threshold(version, approved=True),
            background=background.records if background is not None else None,
            version_key=key,
        )
    except shap_engine.ExplainInputError as exc:
        return _fail(explanation_id, f"The input cannot be explained: {exc}")
    except registry_selectors.ArtifactError as exc:
        return _fail(explanation_id, str(exc))
    except DatabaseOperationalError:
        raise  # transient: the job retries
    except ValueError as exc:  # e.g. a model-agnostic version without a background, a model without predict_proba
        return _fail(explanation_id, str(exc))
    except Exception as exc:  # a bug must not leave the explanation running for ever
        log.exception("Explanation %s crashed", explanation_id)
        return _fail(explanation_id, f"The explanation could not be computed ({type(exc).__name__}: {exc}).")
    result = {
        **result,
        "model": model.name,
        "version": version.version,
        "background": ({"rows": background.rows, "source": background.source} if background else None),
    }
    Explanation.objects.filter(pk=explanation_id, state=ExplanationState.RUNNING).update(
        state=ExplanationState.SUCCEEDED,
        result=result,
        stage="Done",
        progress=1.0,
        error="",
        finished_at=timezone.now(),
    )
    _FAST_PATH[version.artifact_sha256] = result["method"] == "tree"
    return Explanation.objects.select_related("version__model").filter(pk=explanation_id).first()


# --- privacy -------------------------------------------------------------------------------------------------


@transaction.atomic
def explanations_erase(*, entity_id: str) -> int:
    """Delete the cached explanations of an entity (they hold its features); returns how many."""
    entity_id = (entity_id or "").strip()
    if not entity_id:
        raise ApplicationError("Say whose explanations to erase.", field="entity_id")
    _, per_model = Explanation.objects.filter(Q(entity_id=entity_id) | Q(prediction__entity_id=entity_id)).delete()
    return per_model.get(Explanation._meta.label, 0)
