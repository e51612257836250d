"""MLflow's page tokens and result limits. A token is opaque to the client; Keel's holds the offset
of the next page (base64 JSON, as MLflow's own server does), and a token Keel did not write is an
INVALID_PARAMETER_VALUE, never a 500."""

import base64
import binascii
import json

from .errors import INVALID_PARAMETER_VALUE, MlflowError

__all__ = ["MAX_RESULTS_LIMIT", "page_offset", "next_page_token", "max_results"]

# MLflow's SEARCH_MAX_RESULTS_THRESHOLD: the most a search answers in one page.
MAX_RESULTS_LIMIT = 50000


def page_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        decoded = json.loads(base64.b64decode(token.encode("ascii"), validate=True))
        offset = decoded["offset"]
    except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error):
        raise MlflowError(INVALID_PARAMETER_VALUE, f"Invalid page token {token[:100]!r}.") from None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise MlflowError(INVALID_PARAMETER_VALUE, f"Invalid page token {token[:100]!r}.")
    return offset


def next_page_token(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode("ascii")


def max_results(value: int | None, default: int, limit: int = MAX_RESULTS_LIMIT) -> int:
    if value is None:
        return default
    if value < 1 or value > limit:
        raise MlflowError(
            INVALID_PARAMETER_VALUE, f"Invalid value {value} for parameter 'max_results': it must be 1 to {limit}."
        )
    return value
