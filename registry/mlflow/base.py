"""The base of every MLflow endpoint: MLflow's wire rules on top of DRF.

- Authentication: a Keel token (`Bearer` or `Token`), HTTP Basic against Keel users, or a session
  (with its CSRF check). The permission is Keel's: each method names the one it needs, as API v1's
  views do (`required_permissions`), and a method without one is refused.
- The request: `self.fields(spec)` reads GET fields from the query string and the others from the
  JSON body, checked against the endpoint's declared proto fields (registry.mlflow.fields).
- The answer: HTTP 200 with protobuf-JSON snake_case names (`self.ok(payload)`); errors in MLflow's
  shape and statuses (registry.mlflow.errors). An empty message is `{}`.
- Not part of Keel's OpenAPI schema (API v1's): MLflow's protos describe these endpoints.
"""

import math
from datetime import UTC, datetime

from django.http import QueryDict
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from mlops.parsers import keel_parser_classes
from mlops.roles import ActionPermission

from .auth import AUTHENTICATION_CLASSES
from .errors import INVALID_PARAMETER_VALUE, MlflowError, mlflow_exception_handler
from .fields import Field, read_message, read_query

__all__ = ["MlflowView", "ms", "from_ms", "proto_double"]


class MlflowView(APIView):
    authentication_classes = AUTHENTICATION_CLASSES
    permission_classes = [ActionPermission]
    parser_classes = keel_parser_classes([JSONParser])
    renderer_classes = [JSONRenderer]
    # drf-spectacular skips a view whose schema is None: Keel's OpenAPI document is API v1's alone.
    schema = None
    required_permissions: dict[str, str] = {}

    def initial(self, request, *args, **kwargs):
        # A method the endpoint does not serve is ENDPOINT_NOT_FOUND (the client then tries the
        # next path it knows), whoever asks: checked before the role, which names no such method.
        if request.method.lower() not in self.http_method_names or not hasattr(self, request.method.lower()):
            raise MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)

    def get_exception_handler(self):
        return mlflow_exception_handler

    def fields(self, spec: dict[str, Field]) -> dict:
        request = self.request
        if request.method == "GET":
            return read_query(request.query_params, spec)
        data = request.data
        if isinstance(data, QueryDict):
            # DRF's answer for a request without a body: an empty message, as protobuf reads it.
            data = {}
        return read_message(data, spec)

    def ok(self, payload: dict | None = None) -> Response:
        return Response(payload or {}, status=200)


def ms(moment: datetime | None) -> int | None:
    """A moment as MLflow sends it: whole milliseconds since the Unix epoch."""
    return None if moment is None else int(moment.timestamp() * 1000)


def from_ms(value: int, name: str = "time") -> datetime:
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise MlflowError(INVALID_PARAMETER_VALUE, f"'{name}' ({value}) is not a time Keel can store.") from None


def proto_double(value: float, *, is_nan: bool = False):
    """A double as protobuf JSON writes it: a number, or "NaN" / "Infinity" / "-Infinity"."""
    if is_nan or math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value
