"""The serving-list poll answered at the WSGI entry, ahead of Django's request handling.

Serving systems poll `GET /api/v1/support/lists` thousands of times between changes. For a poll the
cache can answer (support.lists.poll), building a Django request, running the middleware and the
request signals costs more than the answer itself. `ServingListsWSGI` wraps Django's WSGI
application (mlops.wsgi) and answers those polls directly; everything else, including every poll it
cannot answer, goes to Django unchanged.

It answers only what Django would answer the same way:
- the request's host is one of ALLOWED_HOSTS (else Django answers 400);
- the request is secure, or SECURE_SSL_REDIRECT is off (else Django redirects it), judged as
  Django's request.is_secure() does (SECURE_PROXY_SSL_HEADER, then the WSGI scheme);
- the security headers are the ones SecurityMiddleware adds, taken from SecurityMiddleware itself
  once per process (HSTS, nosniff, Referrer-Policy, COOP), so they follow the settings.
A full list is handed to the server as a file (a memfd, see support.lists.cache.LocalBodies), which
gunicorn sends with sendfile(), as it does a static file.
"""

import io
import logging

from django.conf import settings
from django.utils import timezone

from . import poll as lists_poll

log = logging.getLogger(__name__)

_STATUS = {200: "200 OK", 304: "304 Not Modified"}
_MAX_HOSTS_REMEMBERED = 64


class ServingListsWSGI:
    def __init__(self, application):
        self.application = application
        self._path = None
        self._hosts: dict[str, bool] = {}
        self._security: dict[bool, list[tuple[str, str]]] = {}

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO") == self.path:
            try:
                answered = self._answer(environ, start_response)
            except Exception:  # Django answers it instead, and reports whatever went wrong there
                log.debug("Fast poll failed; handing it to Django.", exc_info=True)
                answered = None
            if answered is not None:
                return answered
        return self.application(environ, start_response)

    @property
    def path(self) -> str:
        if self._path is None:
            from django.urls import reverse

            self._path = reverse("support-api:lists")
        return self._path

    def _answer(self, environ, start_response):
        secure = _is_secure(environ)
        if (not secure and settings.SECURE_SSL_REDIRECT) or not self._host_allowed(environ):
            return None
        query = _query(environ.get("QUERY_STRING", ""))
        answer = lists_poll.poll_answer(
            authorization=environ.get("HTTP_AUTHORIZATION", ""),
            surface=query.get("surface", ""),
            if_none_match=environ.get("HTTP_IF_NONE_MATCH"),
            since=query.get("since"),
            accept_encoding=environ.get("HTTP_ACCEPT_ENCODING"),
            now=timezone.now(),
        )
        if answer is None:
            return None
        headers = [*answer.headers, *self._security_headers(secure)]
        if answer.status == 304:
            start_response(_STATUS[304], headers)
            return []
        headers += [("Content-Type", "application/json"), ("Content-Length", str(len(answer.body)))]
        wrapper = environ.get("wsgi.file_wrapper")
        opened = answer.bodies.open(answer.gzipped) if wrapper is not None and answer.bodies is not None else None
        start_response(_STATUS[answer.status], headers)
        return [answer.body] if opened is None else wrapper(opened, 1 << 20)

    def _host_allowed(self, environ) -> bool:
        if settings.USE_X_FORWARDED_HOST and "HTTP_X_FORWARDED_HOST" in environ:
            host = environ["HTTP_X_FORWARDED_HOST"]
        elif "HTTP_HOST" in environ:
            host = environ["HTTP_HOST"]
        else:
            host = environ.get("SERVER_NAME", "") + ":" + str(environ.get("SERVER_PORT", ""))
        found = self._hosts.get(host)
        if found is None:
            from django.http.request import split_domain_port, validate_host

            allowed = settings.ALLOWED_HOSTS
            if settings.DEBUG and not allowed:
                allowed = [".localhost", "127.0.0.1", "[::1]"]  # as Django's get_host() allows
            domain, _ = split_domain_port(host)
            found = bool(domain) and validate_host(domain, allowed)
            if len(self._hosts) < _MAX_HOSTS_REMEMBERED:
                self._hosts[host] = found
        return found

    def _security_headers(self, secure: bool) -> list[tuple[str, str]]:
        found = self._security.get(secure)
        if found is None:
            found = self._security[secure] = _security_middleware_headers(self.path, secure)
        return found


def _is_secure(environ) -> bool:
    """request.is_secure(), from the environ."""
    if settings.SECURE_PROXY_SSL_HEADER:
        header, secure_value = settings.SECURE_PROXY_SSL_HEADER
        value = environ.get(header)
        if value is not None:
            return value.split(",", 1)[0].strip() == secure_value
    return environ.get("wsgi.url_scheme") == "https"


def _query(query_string: str) -> dict[str, str]:
    """The last value of each parameter, as request.GET.get() gives it."""
    from urllib.parse import parse_qsl

    return dict(parse_qsl(query_string, keep_blank_values=True)) if query_string else {}


def _security_middleware_headers(path: str, secure: bool) -> list[tuple[str, str]]:
    """The headers SecurityMiddleware adds to a response to a request like this one."""
    from django.core.handlers.wsgi import WSGIRequest
    from django.http import HttpResponse
    from django.middleware.security import SecurityMiddleware

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "443",
        "wsgi.url_scheme": "https" if secure else "http",
        "wsgi.input": io.BytesIO(),
    }
    if settings.SECURE_PROXY_SSL_HEADER:
        header, secure_value = settings.SECURE_PROXY_SSL_HEADER
        environ[header] = secure_value if secure else "http"
    plain = HttpResponse()
    before = set(plain.headers)
    response = SecurityMiddleware(lambda request: plain)(WSGIRequest(environ))
    return [(name, value) for name, value in response.items() if name not in before]
