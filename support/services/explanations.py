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
- the background sample stored with a version lives in `backgrounds` (re-exported here).
- the model runs only in an isolated scorer (mlops.sandbox), never in this process: one warm
  scorer per artifact sha256 (a small LRU with an idle timeout) holds the loaded model and its built
  explainer, so the second explanation of a version is fast; `support.shap_engine.sandboxed` is
  what runs there.
- `explanations_erase` deletes an entity's cached explanations (they hold personal features); the
  privacy erasure calls it (support.services.privacy.entity_data_erase).
"""

from __future__ import annotations

import atexit
import logging
from collections.abc import Mapping
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import OperationalError as DatabaseOperationalError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from audits import selectors as audit_selectors
from mlops.errors import ApplicationError, Conflict
from mlops.queueing import queue_or_wait
from mlops.sandbox import SandboxError, WarmPool
from registry import selectors as registry_selectors
from registry.models import ModelVersion, RegisteredModel

from .. import shap_engine
from ..models import ExplainerBackground, Explanation, ExplanationState, PrivacyRequest
from .backgrounds import (
    FINISHED,
    background_for_compute,
    has_background_source,
)

__all__ = [
    "explanation_request",
    "explanation_compute",
    "explanations_erase",
    "production_version",
]

log = logging.getLogger(__name__)

# A queued or running explanation older than this is assumed lost (worker gone) and queued again
# by the next request for it.
STALE_AFTER = timedelta(minutes=15)

IN_PROGRESS = (ExplanationState.QUEUED, ExplanationState.RUNNING)

# artifact sha256 -> whether the version is explained by the tree path (fast enough to run inline).
# Per process; an artifact's bytes never change under its sha256, so the answer never goes stale.
_FAST_PATH: dict[str, bool] = {}

# The operations the scorer may run, imported there before it loads an artifact.
OPERATIONS = "support.shap_engine.sandboxed"
# Warm scorers of this process, one per artifact sha256.
_SCORERS = WarmPool(maxsize=4, idle_seconds=600)
atexit.register(_SCORERS.close)


# --- versions ------------------------------------------------------------------------


def production_version(model: RegisteredModel) -> ModelVersion | None:
    return registry_selectors.alias_map(model).get(registry_selectors.PRODUCTION)


def _explainable_version(model: RegisteredModel) -> ModelVersion:
    version = production_version(model)
    if version is None:
        raise ApplicationError(f"'{model.name}' has no production version to explain.", field="model", status_code=409)
    if not version.artifact:
        raise ApplicationError(
            f"v{version.version} of '{model.name}' has no artifact to explain.", field="model", status_code=409
        )
    if not version.feature_schema:
        raise ApplicationError(
            f"v{version.version} of '{model.name}' has no feature schema; Keel cannot tell which features it reads.",
            field="model",
            status_code=409,
        )
    return version


def _version_key(version: ModelVersion, background: ExplainerBackground | None) -> str:
    """The explainer cache's key: changes with the artifact's bytes and with the background."""
    return f"{version.artifact_sha256}:{background.sha256 if background else 'no-background'}"


@contextmanager
def _scorer(version: ModelVersion):
    """The version's warm scorer, held by this caller until the block ends."""
    start = registry_selectors.artifact_starter(version, f"v{version.version}", modules=[OPERATIONS])
    with _SCORERS.scorer(version.artifact_sha256, start) as scorer:
        yield scorer


def _explain(version: ModelVersion, key: str, **arguments) -> dict:
    """shap_engine.explain of one input, run in the version's scorer; an input or a model the
    explainer refuses raises ExplainInputError or ValueError, as it would in process."""
    with _scorer(version) as scorer:
        answer = scorer.call(f"{OPERATIONS}:explain", version_key=key, **arguments)
    if not isinstance(answer, dict):
        raise ValueError("The scorer sent no explanation.")
    if answer.get("error") == "input":
        raise shap_engine.ExplainInputError(str(answer.get("message")), field=answer.get("field"))
    if answer.get("error"):
        raise ValueError(str(answer.get("message")))
    return answer["result"]


def _explainer_built(version: ModelVersion, key: str, task_type: str) -> bool:
    with _scorer(version) as scorer:
        return bool(scorer.call(f"{OPERATIONS}:is_cached", version_key=key, task_type=task_type))


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
            with _scorer(version) as scorer:
                final = scorer.describe()["final_type"]
        except (registry_selectors.ArtifactError, SandboxError) as exc:
            raise Conflict(str(exc), field="model") from None
        fast = final in shap_engine.TREE_MODELS
    _FAST_PATH[version.artifact_sha256] = fast
    return fast


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

    queue_or_wait(compute_explanation, explanation_id, what="explanation", later="is queued again by its next request")


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
    if not fast and not has_background_source(version):
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


def explanation_fail(*, explanation_id: int, reason: str) -> Explanation | None:
    """End an unfinished explanation as failed with the reason (a time limit, a worker that kept dying)."""
    return _fail(explanation_id, reason)


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
        background = background_for_compute(version, explanation_id)
        key = _version_key(version, background)
        if _explainer_built(version, key, model.task_type):
            _progress(explanation_id, "Computing the contributions", 0.5)
        else:
            _progress(
                explanation_id,
                f"Building v{version.version}'s explainer (once per version) and computing the contributions",
                0.3,
            )
        result = _explain(
            version,
            key,
            row=explanation.input,
            task_type=model.task_type,
            feature_schema=version.feature_schema,
            threshold=registry_selectors.applicable_threshold(version, approved=True),
            background=background.records if background is not None else None,
        )
    except shap_engine.ExplainInputError as exc:
        return _fail(explanation_id, f"The input cannot be explained: {exc}")
    except (registry_selectors.ArtifactError, SandboxError) as exc:
        return _fail(explanation_id, str(exc))
    except DatabaseOperationalError:
        raise  # transient: the job retries
    except SoftTimeLimitExceeded:
        raise  # the task records the time limit reached
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
