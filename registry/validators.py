"""Field validators shared by the models (admin, services via full_clean) and the API serializers."""

import math
import re

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
COMMIT_RE = re.compile(r"^[0-9a-f]{7,40}$")

validate_sha256 = RegexValidator(SHA256_RE, "Enter a sha256 as 64 lowercase hex characters.")
validate_commit = RegexValidator(COMMIT_RE, "Enter a git commit hash: 7 to 40 lowercase hex characters.")
validate_run_id = RegexValidator(r"^[0-9a-f]{32}$", "A run id is 32 lowercase hex characters.")

FEATURE_TYPES = ("float", "int", "string", "bool", "datetime")
MAX_PARAM_VALUE_LENGTH = 6000  # as MLflow, so any MLflow client's params fit
# MLflow's other limits (mlflow/utils/validation.py), which its tracking API enforces.
MAX_TAG_VALUE_LENGTH = 8000
MAX_ENTITY_KEY_LENGTH = 250
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_BATCH_LOG_REQUEST_SIZE = 1_000_000  # bytes of one log-batch request


def validate_feature_schema(value) -> None:
    """A feature schema is a list of {"name", "type", "categorical"} with unique names."""
    if not isinstance(value, list):
        raise ValidationError("The feature schema must be a list of features.")
    seen: set[str] = set()
    for index, feature in enumerate(value):
        where = f"Feature #{index + 1}"
        if not isinstance(feature, dict):
            raise ValidationError(f"{where} must be an object with name, type and categorical.")
        unknown = set(feature) - {"name", "type", "categorical", "description"}
        if unknown:
            raise ValidationError(f"{where} has unknown keys: {', '.join(sorted(unknown))}.")
        name = feature.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ValidationError(f"{where} needs a non-empty name.")
        if name in seen:
            raise ValidationError(f"Feature '{name}' appears twice.")
        seen.add(name)
        if feature.get("type") not in FEATURE_TYPES:
            raise ValidationError(
                f"Feature '{name}' has type {feature.get('type')!r}; use one of {', '.join(FEATURE_TYPES)}."
            )
        if not isinstance(feature.get("categorical", False), bool):
            raise ValidationError(f"Feature '{name}': categorical must be true or false.")
        if not isinstance(feature.get("description", ""), str):
            raise ValidationError(f"Feature '{name}': the description must be text.")


def validate_hyperparameters(value) -> None:
    if not isinstance(value, dict):
        raise ValidationError("Hyperparameters must be an object of name → value.")
    for key, item in value.items():
        if not isinstance(item, (str, int, float, bool)) and item is not None:
            raise ValidationError(f"Hyperparameter '{key}' must be a string, number, boolean or null.")


def validate_metrics(value) -> None:
    if not isinstance(value, dict):
        raise ValidationError("Metrics must be an object of name → number.")
    for key, item in value.items():
        if isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(item):
            raise ValidationError(f"Metric '{key}' must be a finite number.")


def validate_string_map(value) -> None:
    if not isinstance(value, dict):
        raise ValidationError("Tags must be an object of name → text.")
    for key, item in value.items():
        if not isinstance(item, str):
            raise ValidationError(f"Tag '{key}' must be text.")
