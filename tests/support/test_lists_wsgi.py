"""A serving system's poll reaches gunicorn's WSGI entry (mlops.wsgi) first: polls the cache can answer
are answered there, ahead of Django, and answered exactly as Django would; everything else is handed
to Django untouched."""

import gzip
import json
from wsgiref.util import FileWrapper

import pytest
from django.test import RequestFactory
from rest_framework.authtoken.models import Token

from support.lists.wsgi import ServingListsWSGI
from tests.factories import BlacklistEntryFactory, BoostEntryFactory

LISTS = "/api/v1/support/lists"
SECURITY_HEADERS = (
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
    "Strict-Transport-Security",
)


class DjangoStandIn:
    """What the WSGI entry wraps; records each request handed to it instead of answering it."""

    def __init__(self):
        self.calls = []

    def __call__(self, environ, start_response):
        self.calls.append(environ["PATH_INFO"])
        start_response("418 I'm a teapot", [("Content-Type", "text/plain")])
        return [b"django answered"]


class Answer:
    def __init__(self, status: str, headers: list, chunks):
        self.status_code = int(status.split()[0])
        self.headers = dict(headers)
        self.sent_as_file = isinstance(chunks, FileWrapper)
        self.content = b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()

    def __getitem__(self, name):
        return self.headers[name]


class Poller:
    """A serving system polling through the WSGI entry, as gunicorn hands it a request."""

    def __init__(self, token: str):
        self.token = token
        self.django = DjangoStandIn()
        self.entry = ServingListsWSGI(self.django)

    def get(self, path=LISTS, *, file_wrapper=True, **params) -> Answer:
        headers = {key: params.pop(key) for key in list(params) if key.startswith("HTTP_")}
        headers.setdefault("HTTP_AUTHORIZATION", f"Token {self.token}")
        environ = RequestFactory().get(path, params, **headers).environ
        if file_wrapper:
            environ["wsgi.file_wrapper"] = FileWrapper
        else:
            environ.pop("wsgi.file_wrapper", None)
        started = {}

        def start_response(status, response_headers, exc_info=None):
            started.update(status=status, headers=response_headers)

        chunks = self.entry(environ, start_response)
        return Answer(started["status"], started["headers"], chunks)


@pytest.fixture
def pipeline_api(api, pipeline):
    return api(pipeline)


@pytest.fixture
def poller(pipeline_api, pipeline):
    return Poller(Token.objects.get(user=pipeline).key)


@pytest.fixture
def warm(surfaces, commit, pipeline_api):
    """Entries on `home`, and one poll through Django: it built the list and remembered the token."""
    with commit():
        BlacklistEntryFactory(entity_id="sku-1")
        BoostEntryFactory(entity_id="sku-new", surfaces=["home"], weight=2.0)
    first = pipeline_api.get(LISTS, {"surface": "home"})
    assert first.status_code == 200
    return first


def test_an_unchanged_list_is_revalidated_without_django(warm, poller):
    answer = poller.get(surface="home", HTTP_IF_NONE_MATCH=warm["ETag"])
    assert answer.status_code == 304 and answer.content == b""
    assert answer["ETag"] == warm["ETag"] and answer["Cache-Control"] == "no-cache"
    assert poller.django.calls == []


def test_the_full_list_is_sent_as_a_file_with_the_bytes_django_sends(served_ids, warm, poller):
    answer = poller.get(surface="home")
    assert answer.status_code == 200 and poller.django.calls == []
    assert answer.sent_as_file
    assert answer.content == warm.content
    assert int(answer["Content-Length"]) == len(warm.content)
    assert answer["ETag"] == warm["ETag"] and answer["Content-Type"] == "application/json"
    assert served_ids(json.loads(answer.content)["blacklist"]) == {"sku-1"}

    # A server without wsgi.file_wrapper gets the same bytes from memory.
    from_memory = poller.get(surface="home", file_wrapper=False)
    assert not from_memory.sent_as_file and from_memory.content == warm.content


def test_a_client_that_accepts_gzip_gets_the_gzipped_list(warm, poller):
    answer = poller.get(surface="home", HTTP_ACCEPT_ENCODING="gzip, br")
    assert answer["Content-Encoding"] == "gzip" and "Accept-Encoding" in answer["Vary"]
    assert json.loads(gzip.decompress(answer.content)) == warm.json()
    assert poller.django.calls == []


def test_changes_since_a_cursor_come_from_the_stored_answer(warm, poller, pipeline_api):
    cursor = warm.json()["cursor"]
    by_django = pipeline_api.get(LISTS, {"surface": "home", "since": cursor})
    answer = poller.get(surface="home", since=cursor)
    assert answer.status_code == 200 and poller.django.calls == []
    assert answer.content == by_django.content
    assert json.loads(answer.content)["added"] == {"blacklist": [], "boosts": []}


def test_the_headers_are_the_ones_django_adds(warm, poller):
    answer = poller.get(surface="home", HTTP_IF_NONE_MATCH=warm["ETag"])
    for name in SECURITY_HEADERS:
        assert answer.headers.get(name) == warm.headers.get(name), name
    assert answer["X-Content-Type-Options"] == "nosniff"
    full = poller.get(surface="home")
    assert full["Vary"] == warm["Vary"] and full["Cache-Control"] == warm["Cache-Control"]


def test_a_change_is_never_answered_from_the_entry_until_django_has_rebuilt_the_list(
    warm, poller, agent, api, served_ids
):
    added = api(agent).post(
        "/api/v1/support/blacklist",
        {"entity_type": "product", "entity_id": "sku-2", "reason": "fraud", "all_surfaces": True},
        format="json",
    )
    assert added.status_code == 201
    stale = poller.get(surface="home", HTTP_IF_NONE_MATCH=warm["ETag"])
    assert stale.status_code == 418 and poller.django.calls == [LISTS]  # Django builds the new list

    rebuilt = api(agent).get(LISTS, {"surface": "home"})  # any poll through Django rebuilds it
    assert rebuilt.status_code == 200
    answer = poller.get(surface="home", HTTP_IF_NONE_MATCH=warm["ETag"])
    assert answer.status_code == 200 and len(poller.django.calls) == 1
    assert served_ids(json.loads(answer.content)["blacklist"]) == {"sku-1", "sku-2"}


@pytest.mark.parametrize(
    "case",
    [
        "unknown token",
        "no token",
        "another path",
        "post",
        "unknown host",
        "unnamed surface",
        "bad cursor",
        "other surface",
    ],
)
def test_what_the_entry_cannot_answer_as_django_would_goes_to_django(warm, poller, case):
    params = {"surface": "home", "HTTP_IF_NONE_MATCH": warm["ETag"]}
    path = LISTS
    if case == "unknown token":
        params["HTTP_AUTHORIZATION"] = "Token not-a-token"
    elif case == "no token":
        params["HTTP_AUTHORIZATION"] = ""
    elif case == "another path":
        path = "/api/v1/support/entries"
    elif case == "unknown host":
        params["HTTP_HOST"] = "evil.example"
    elif case == "unnamed surface":
        params["surface"] = ""
    elif case == "bad cursor":
        params["since"] = "yesterday"
    elif case == "other surface":
        params["surface"] = "search"  # not built yet
    if case == "post":
        environ = RequestFactory().post(path, {}, HTTP_AUTHORIZATION=f"Token {poller.token}").environ
        poller.entry(environ, lambda status, headers, exc_info=None: None)
    else:
        assert poller.get(path, **params).status_code == 418
    assert len(poller.django.calls) == 1


def test_a_plain_http_poll_is_left_to_djangos_https_redirect(warm, settings, api, pipeline, poller):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    pipeline_api = api(pipeline)  # a new client: its middleware reads these settings
    assert pipeline_api.get(LISTS, {"surface": "home"}).status_code == 301  # what Django does with it
    assert poller.get(surface="home", HTTP_X_FORWARDED_PROTO="http").status_code == 418

    behind_tls = poller.get(surface="home", HTTP_IF_NONE_MATCH=warm["ETag"], HTTP_X_FORWARDED_PROTO="https")
    assert behind_tls.status_code == 304
    by_django = pipeline_api.get(
        LISTS, {"surface": "home"}, HTTP_IF_NONE_MATCH=warm["ETag"], HTTP_X_FORWARDED_PROTO="https"
    )
    assert by_django.status_code == 304
    assert behind_tls["Strict-Transport-Security"] == by_django["Strict-Transport-Security"] == "max-age=3600"
    assert len(poller.django.calls) == 1


def test_a_token_whose_role_was_removed_is_refused_by_django_once_its_grant_ends(
    warm, poller, pipeline, settings, clock
):
    pipeline.groups.clear()
    clock.advance(seconds=settings.KEEL_SUPPORT_LISTS_AUTH_CACHE_SECONDS + 1)
    assert poller.get(surface="home", HTTP_IF_NONE_MATCH=warm["ETag"]).status_code == 418
    assert poller.django.calls == [LISTS]


def test_a_revoked_token_stops_reading_the_lists_at_once(warm, poller, pipeline, pipeline_api):
    """Deleting a token (revoking or rotating it) drops its cached grant: no wait for the cache TTL."""
    Token.objects.filter(user=pipeline).delete()
    assert poller.get(surface="home", HTTP_IF_NONE_MATCH=warm["ETag"]).status_code == 418  # handed to Django
    assert poller.django.calls == [LISTS]
    assert pipeline_api.get(LISTS, {"surface": "home"}).status_code == 401


def test_a_deactivated_pipelines_token_stops_reading_the_lists_at_once(warm, poller, pipeline, pipeline_api):
    pipeline.is_active = False
    pipeline.save()
    assert poller.get(surface="home", HTTP_IF_NONE_MATCH=warm["ETag"]).status_code == 418
    assert pipeline_api.get(LISTS, {"surface": "home"}).status_code == 401
