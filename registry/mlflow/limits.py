"""MLflow's limits on what one call logs, with its error code (INVALID_PARAMETER_VALUE) and words:
at most 1000 metrics, 100 params and 100 tags a batch (1000 entries in all), keys of at most 250
characters made of letters, digits, `_ - . / :` and spaces that do not resolve to another path, param
values of at most 6000 characters and tag values of at most 8000, and a log-batch request of at most
1,000,000 bytes."""

import posixpath
import re

from ..validators import (
    MAX_BATCH_LOG_REQUEST_SIZE,
    MAX_ENTITIES_PER_BATCH,
    MAX_ENTITY_KEY_LENGTH,
    MAX_METRICS_PER_BATCH,
    MAX_PARAM_VALUE_LENGTH,
    MAX_PARAMS_TAGS_PER_BATCH,
    MAX_TAG_VALUE_LENGTH,
)
from .errors import INVALID_PARAMETER_VALUE, MlflowError

__all__ = ["check_key", "check_param", "check_tag", "check_batch_sizes", "check_batch_request_size"]

KEY_RE = re.compile(r"^[/\w.\- :]*$")


def _refuse(message: str) -> MlflowError:
    return MlflowError(INVALID_PARAMETER_VALUE, message)


def check_key(key, path: str) -> str:
    if not isinstance(key, str) or not key:
        raise _refuse(f"Missing value for required parameter '{path}'.")
    if not KEY_RE.match(key):
        raise _refuse(
            f"Invalid value {key[:100]!r} for parameter '{path}': names may only contain alphanumerics, "
            "underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/)."
        )
    normal = posixpath.normpath(key)
    if normal != key or normal == "." or normal.startswith(("..", "/")):
        raise _refuse(
            f"Invalid value {key[:100]!r} for parameter '{path}': names must not resolve to other names "
            f"when treated as paths; this one resolves to {normal!r}."
        )
    if len(key) > MAX_ENTITY_KEY_LENGTH:
        raise _refuse(f"'{path}' exceeds the maximum length of {MAX_ENTITY_KEY_LENGTH} characters.")
    return key


def _check_value(value: str, limit: int, path: str) -> str:
    if len(value) > limit:
        raise _refuse(f"'{path}' exceeds the maximum length of {limit} characters.")
    return value


def check_param(key, value: str, path: str = "") -> tuple[str, str]:
    prefix = f"{path}." if path else ""
    return check_key(key, f"{prefix}key"), _check_value(value, MAX_PARAM_VALUE_LENGTH, f"{prefix}value")


def check_tag(key, value: str, path: str = "") -> tuple[str, str]:
    prefix = f"{path}." if path else ""
    return check_key(key, f"{prefix}key"), _check_value(value, MAX_TAG_VALUE_LENGTH, f"{prefix}value")


def check_batch_sizes(metrics: int, params: int, tags: int) -> None:
    for what, limit, count in (
        ("metrics", MAX_METRICS_PER_BATCH, metrics),
        ("params", MAX_PARAMS_TAGS_PER_BATCH, params),
        ("tags", MAX_PARAMS_TAGS_PER_BATCH, tags),
        ("metrics, params, and tags", MAX_ENTITIES_PER_BATCH, metrics + params + tags),
    ):
        if count > limit:
            raise _refuse(
                f"A batch logging request can contain at most {limit} {what}. Got {count} {what}. "
                f"Please split up {what} across multiple requests and try again."
            )


def check_batch_request_size(request) -> None:
    """Refuse a log-batch body over MLflow's size before reading it."""
    try:
        size = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        size = 0
    if size > MAX_BATCH_LOG_REQUEST_SIZE:
        raise _refuse(
            f"Batched logging API requests must be at most {MAX_BATCH_LOG_REQUEST_SIZE} bytes, "
            f"got a request of size {size}."
        )
