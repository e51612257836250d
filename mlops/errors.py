"""One application error type and one DRF exception handler: API v1 errors always look like
{"message": "...", "detail": {"field": ["..."]}}, an unexpected exception (a 500) included, whether
DEBUG is on or off."""

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.signals import got_request_exception
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ApplicationError(Exception):
    """A domain rule was broken. Raised by services; views turn it into a clear 4xx."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(
        self, message: str, *, field: str | None = None, detail: dict | None = None, status_code: int | None = None
    ):
        super().__init__(message)
        self.message = message
        self.detail = dict(detail or {})
        if field:
            self.detail.setdefault(field, [message])
        if status_code is not None:
            self.status_code = status_code


class NotFound(ApplicationError, Http404):
    """Also an Http404, so one selector serves the API (JSON with the message) and pages (404 page)."""

    status_code = status.HTTP_404_NOT_FOUND


class Conflict(ApplicationError):
    status_code = status.HTTP_409_CONFLICT


def _as_field_dict(data) -> dict:
    if isinstance(data, dict):
        return data
    if isinstance(data, list):
        return {"non_field_errors": data}
    return {"non_field_errors": [data]}


def _refused_request(exc: SuspiciousOperation) -> ApplicationError:
    """The API's error for a request Django would answer with its HTML 400 page. A body over
    DATA_UPLOAD_MAX_MEMORY_SIZE is a 413, not Django's plain 400: it is the status HTTP defines for a
    body that is too large, and the one the API already gives an upload over its limit."""
    if isinstance(exc, RequestDataTooBig):
        return ApplicationError(
            "The request body is too large: the limit is "
            f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes (uploaded files are counted separately).",
            status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return ApplicationError(str(exc))
    return ApplicationError("The request was refused as unsafe.")


UNEXPECTED_MESSAGE = "Internal server error: the request failed unexpectedly and was logged."


def is_api_request(request) -> bool:
    return request.path_info.startswith("/api/")


def unexpected_error_response(request, exc: BaseException) -> JsonResponse:
    """The API's answer to an exception nothing handled: logged with its traceback where Django logs
    its own 500s (and signalled as Django does), answered as a JSON 500 without the exception's text."""
    got_request_exception.send(sender=None, request=request)
    logging.getLogger("django.request").error(
        "Internal Server Error: %s",
        request.path,
        exc_info=(type(exc), exc, exc.__traceback__),
        extra={"status_code": 500, "request": request},
    )
    response = JsonResponse({"message": UNEXPECTED_MESSAGE, "detail": {}}, status=500)
    # Logged here already; Django's handler would log the 500 again without the traceback.
    response._has_been_logged = True
    return response


def api_exception_handler(exc, context):
    if isinstance(exc, SuspiciousOperation):
        refused = _refused_request(exc)
        # Logged where Django logs the suspicious operations it answers itself.
        logging.getLogger(f"django.security.{type(exc).__name__}").error(
            str(exc),
            extra={"status_code": refused.status_code, "request": getattr(context.get("request"), "_request", None)},
        )
        exc = refused
    if isinstance(exc, ApplicationError):
        return Response({"message": exc.message, "detail": exc.detail}, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail=detail)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        request = context.get("request")
        return unexpected_error_response(getattr(request, "_request", request), exc)
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"message": "Invalid input.", "detail": _as_field_dict(response.data)}
    else:
        message = response.data.get("detail", str(exc)) if isinstance(response.data, dict) else str(exc)
        response.data = {"message": str(message), "detail": {}}
    return response
