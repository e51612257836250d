"""Reads for the explanations (support.services.explanations holds the writes): the explanation itself,
which models can be explained, and what the form offers for each feature."""

from __future__ import annotations

from django.db.models import QuerySet

from audits import selectors as audit_selectors
from mlops.errors import NotFound
from registry import selectors as registry_selectors
from registry.models import ModelVersion, RegisteredModel

from .. import shap_engine
from ..models import ExplainerBackground, Explanation

MAX_CHOICES = 200  # more distinct values than this and the form offers a text box with suggestions


def explanations() -> QuerySet[Explanation]:
    return Explanation.objects.select_related("version__model", "prediction__version", "created_by")


def explanation_get(pk: int) -> Explanation:
    found = explanations().filter(pk=pk).first()
    if found is None:
        raise NotFound(f"No explanation #{pk}.")
    return found


def explainable_models() -> list[tuple[RegisteredModel, ModelVersion]]:
    """Models with a production version, each with that version, by name."""
    pairs = []
    for model in RegisteredModel.objects.filter(aliases__name=registry_selectors.PRODUCTION).order_by("name"):
        version = registry_selectors.alias_map(model).get(registry_selectors.PRODUCTION)
        if version is not None:
            pairs.append((model, version))
    return pairs


def _known_values(version: ModelVersion) -> dict[str, tuple[list[str], bool]]:
    """Per non-numeric feature: values seen in training (most frequent first) and whether that list
    is complete. From the training reference's profile when there is one, else the background."""
    found: dict[str, tuple[list[str], bool]] = {}
    columns = audit_selectors.reference_profile_columns(version)
    for name, column in columns.items():
        counts = column.get("counts") if isinstance(column, dict) else None
        if column.get("kind") == "categorical" and isinstance(counts, dict) and counts:
            values = [str(v) for v, _ in sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))]
            found[name] = (values, not column.get("other"))
    background = ExplainerBackground.objects.filter(version=version).only("records").first()
    if background is not None:
        sampled: dict[str, dict[str, None]] = {}
        for record in background.records:
            for name, value in record.items():
                if name not in found and isinstance(value, str):
                    sampled.setdefault(name, {})[value] = None
        # A sample may miss rare values: suggestions, not a closed list.
        found.update({name: (list(values), False) for name, values in sampled.items()})
    return found


def feature_inputs(version: ModelVersion) -> list[dict]:
    """One entry per feature of the version's schema, for the form: name, type, whether it is
    categorical, and the values to choose from (`choices`, complete) or suggest (`suggestions`)."""
    known = _known_values(version)
    inputs = []
    for entry in version.feature_schema or []:
        name, kind = entry["name"], entry.get("type") or "string"
        categorical = bool(entry.get("categorical")) or kind not in shap_engine.NUMERIC_TYPES
        values, complete = known.get(name, ([], False))
        item = {"name": name, "type": kind, "categorical": categorical, "choices": [], "suggestions": []}
        if categorical and values:
            if complete and len(values) <= MAX_CHOICES:
                item["choices"] = values
            else:
                item["suggestions"] = values[:MAX_CHOICES]
        inputs.append(item)
    return inputs


def cached_for_entity(model: RegisteredModel, entity_id: str) -> Explanation | None:
    """The finished explanation of the production version for the entity's latest logged
    prediction, if one is cached (the form links to it instead of asking again)."""
    version = registry_selectors.alias_map(model).get(registry_selectors.PRODUCTION)
    prediction = audit_selectors.latest_prediction(entity_id=entity_id, model=model) if entity_id else None
    if version is None or prediction is None:
        return None
    return (
        explanations().filter(version=version, prediction=prediction, state="succeeded").order_by("-created_at").first()
    )


def prediction_reasons(prediction) -> list[str] | None:
    """The top reasons of a finished explanation of this logged prediction by the version that made
    it, or None: only what is stored, never a new SHAP computation (a labeller's card waits on it).
    Registered as the audits app's reason provider (SupportConfig.ready)."""
    result = (
        Explanation.objects.filter(
            prediction_id=prediction.pk, version_id=prediction.version_id, state="succeeded", result__isnull=False
        )
        .order_by("-finished_at", "-pk")
        .values_list("result", flat=True)
        .first()
    )
    reasons = (result or {}).get("reasons") if isinstance(result, dict) else None
    return list(reasons) if reasons else None


PNG_CACHE_SECONDS = 3600


def waterfall_png(explanation: Explanation) -> bytes:
    """The waterfall plot of a succeeded explanation, drawn once an hour at most per explanation
    (a finished explanation never changes; a new background deletes it, and ids are not reused)."""
    from django.core.cache import cache

    if explanation.state != "succeeded" or not explanation.result:
        raise NotFound(f"Explanation #{explanation.pk} is {explanation.state}; it has no plot yet.")
    key = f"support:explanation:{explanation.pk}:{explanation.finished_at.timestamp():.6f}:waterfall.png"
    png = cache.get(key)
    if png is None:
        # Imported here: matplotlib takes a while to load and only the pictures need it.
        from ..plots import waterfall_png as draw

        png = draw(explanation.result)
        cache.set(key, png, PNG_CACHE_SECONDS)
    return png
