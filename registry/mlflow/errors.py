"""MLflow's error shape: `{"error_code": ..., "message": ...}` with the HTTP status MLflow's server
gives each code. The client turns any JSON object it gets with a non-200 status into a
RestException carrying the code, and retries 429/5xx for minutes: bad input must never be a 5xx.

Keel's own errors (services raise ApplicationError, NotFound, Conflict) and DRF's (parse errors,
authentication, permissions) are mapped here, once, for every MLflow endpoint."""

import logging
from contextlib import contextmanager

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from mlops.errors import UNEXPECTED_MESSAGE, ApplicationError, Conflict, NotFound, unexpected_error_response

__all__ = [
    "INVALID_PARAMETER_VALUE",
    "RESOURCE_ALREADY_EXISTS",
    "RESOURCE_DOES_NOT_EXIST",
    "INVALID_STATE",
    "UNAUTHENTICATED",
    "PERMISSION_DENIED",
    "INTERNAL_ERROR",
    "ENDPOINT_NOT_FOUND",
    "STATUS",
    "MlflowError",
    "mlflow_error",
    "conflict_as",
    "mlflow_exception_handler",
]

INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
INVALID_STATE = "INVALID_STATE"
UNAUTHENTICATED = "UNAUTHENTICATED"
PERMISSION_DENIED = "PERMISSION_DENIED"
INTERNAL_ERROR = "INTERNAL_ERROR"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"

# As mlflow.exceptions.ERROR_CODE_TO_HTTP_STATUS maps them.
STATUS = {
    INVALID_PARAMETER_VALUE: 400,
    RESOURCE_ALREADY_EXISTS: 400,
    RESOURCE_DOES_NOT_EXIST: 404,
    INVALID_STATE: 400,
    UNAUTHENTICATED: 401,
    PERMISSION_DENIED: 403,
    INTERNAL_ERROR: 500,
    ENDPOINT_NOT_FOUND: 404,
}


class MlflowError(Exception):
    """An error an MLflow endpoint answers with MLflow's code and status."""

    def __init__(self, error_code: str, message: str):
        if error_code not in STATUS:
            raise ValueError(f"unknown MLflow error code {error_code!r}")
        super().__init__(message)
        self.error_code = error_code
        self.message = message

    @property
    def status_code(self) -> int:
        return STATUS[self.error_code]

    def response(self) -> Response:
        return Response({"error_code": self.error_code, "message": self.message}, status=self.status_code)


@contextmanager
def conflict_as(error_code: str):
    """Inside it, a service's Conflict answers `error_code`: an endpoint that creates something says
    `with conflict_as(RESOURCE_ALREADY_EXISTS): services.…_create(...)`."""
    try:
        yield
    except Conflict as exc:
        raise MlflowError(error_code, exc.message) from None


def mlflow_error(exc: BaseException, request=None) -> MlflowError | None:
    """The MLflow error for an exception, or None for one nobody expected (a bug: 500)."""
    if isinstance(exc, MlflowError):
        return exc
    if isinstance(exc, NotFound):
        return MlflowError(RESOURCE_DOES_NOT_EXIST, exc.message)
    if isinstance(exc, Conflict):
        # A Keel conflict is a state rule (a run that ended cannot restart); names already taken are
        # turned into RESOURCE_ALREADY_EXISTS by the endpoint that knows it created something.
        return MlflowError(INVALID_STATE, exc.message)
    if isinstance(exc, ApplicationError):
        if exc.status_code == 403:
            return MlflowError(PERMISSION_DENIED, exc.message)
        if exc.status_code == 404:
            return MlflowError(RESOURCE_DOES_NOT_EXIST, exc.message)
        # Everything else a service refuses is bad input, a changed param (409 in API v1) included:
        # MLflow answers INVALID_PARAMETER_VALUE there.
        return MlflowError(INVALID_PARAMETER_VALUE, exc.message)
    if isinstance(exc, RequestDataTooBig):
        return MlflowError(INVALID_PARAMETER_VALUE, "The request body is too large.")
    if isinstance(exc, SuspiciousOperation):
        return MlflowError(INVALID_PARAMETER_VALUE, "The request was refused as unsafe.")
    if isinstance(exc, DjangoValidationError):
        return MlflowError(INVALID_PARAMETER_VALUE, " ".join(exc.messages))
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return MlflowError(UNAUTHENTICATED, str(exc.detail))
    if isinstance(exc, exceptions.PermissionDenied) and str(exc.detail).startswith("CSRF Failed"):
        # A browser's session without its CSRF token: signed in, but the request is refused.
        return MlflowError(PERMISSION_DENIED, str(exc.detail))
    if isinstance(exc, exceptions.PermissionDenied | DjangoPermissionDenied):
        # `_user`, not `user`: reading DRF's `user` would authenticate again, inside this handler.
        user = getattr(request, "_user", None)
        if user is None or not user.is_authenticated:
            return MlflowError(
                UNAUTHENTICATED, "Authentication required: send a Keel API token or a user name and password."
            )
        return MlflowError(PERMISSION_DENIED, "Your Keel role does not allow this action.")
    if isinstance(exc, Http404 | exceptions.NotFound):
        return MlflowError(RESOURCE_DOES_NOT_EXIST, str(exc) or "Not found.")
    if isinstance(exc, exceptions.MethodNotAllowed):
        return MlflowError(ENDPOINT_NOT_FOUND, str(exc.detail))
    if isinstance(exc, exceptions.APIException) and exc.status_code < 500:
        # Malformed JSON, an unsupported media type, throttling and the like: the request was bad.
        return MlflowError(INVALID_PARAMETER_VALUE, str(exc.detail))
    return None


def mlflow_exception_handler(exc, context):
    """DRF's exception handler for the MLflow views."""
    request = context.get("request")
    error = mlflow_error(exc, request)
    if error is None:
        # A bug: logged with its traceback where Django logs its 500s, answered in MLflow's shape.
        unexpected_error_response(getattr(request, "_request", request), exc)
        response = Response({"error_code": INTERNAL_ERROR, "message": UNEXPECTED_MESSAGE}, status=500)
        response._has_been_logged = True
        return response
    if isinstance(exc, SuspiciousOperation):
        logging.getLogger(f"django.security.{type(exc).__name__}").error(str(exc))
    response = error.response()
    if error.error_code == UNAUTHENTICATED:
        # The client sends credentials unasked; the header tells other HTTP clients what to send.
        response["WWW-Authenticate"] = 'Bearer realm="keel", Basic realm="keel"'
    return response
