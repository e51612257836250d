"""A serving system's poll, answered without Django's request handling when the cache can answer it.

One function decides the answer from a poll's few inputs (token, surface, If-None-Match, since,
Accept-Encoding); both the WSGI entry (support.lists.wsgi, ahead of Django) and the DRF view call
it, and both build their headers with `list_headers`, so the fast and the normal path answer alike.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from mlops.roles import READ_LISTS

from . import cache as lists_cache

SURFACE_NAME = re.compile(r"[-a-zA-Z0-9_]{1,64}")


def wants_gzip(accept_encoding: str | None) -> bool:
    return "gzip" in (accept_encoding or "")


def list_headers(*, etag: str | None, gzipped: bool = False, not_modified: bool = False) -> list[tuple[str, str]]:
    """The headers of a list, changes or 304 answer (besides Content-Type/Length and security)."""
    if not_modified:
        return [("ETag", etag), ("Cache-Control", "no-cache")]
    headers = [("Cache-Control", "no-cache"), ("Vary", "Accept, Accept-Encoding, Authorization, Cookie")]
    if gzipped:
        headers.append(("Content-Encoding", "gzip"))
    if etag:
        headers.append(("ETag", etag))
    return headers


@dataclass(frozen=True)
class PollAnswer:
    status: int  # 200 or 304
    headers: list[tuple[str, str]]
    body: bytes = b""
    bodies: lists_cache.LocalBodies | None = None  # set for the full list: it may be sent as a file
    gzipped: bool = False


def poll_answer(
    *,
    authorization: str,
    surface: str,
    if_none_match: str | None,
    since: str | None,
    accept_encoding: str | None,
    now: datetime,
) -> PollAnswer | None:
    """The answer to a poll by a recently seen token for a current list (see support.lists.cache.fast_answer),
    or None for anything else (first poll of a token, a list to build, a bad surface or cursor,
    session users), which the DRF view then answers, with its authentication and error messages."""
    auth = authorization.split()
    if not (len(auth) == 2 and auth[0].lower() == "token" and SURFACE_NAME.fullmatch(surface)):
        return None
    answer = lists_cache.fast_answer(
        token=auth[1], permission=READ_LISTS, surface=surface, if_none_match=if_none_match, since=since, now=now
    )
    if answer is None:
        return None
    if answer.changes is not None:
        return PollAnswer(200, list_headers(etag=None), body=answer.changes)
    if answer.bodies is None:
        return PollAnswer(304, list_headers(etag=answer.etag, not_modified=True))
    gzipped = wants_gzip(accept_encoding)
    return PollAnswer(
        200,
        list_headers(etag=answer.etag, gzipped=gzipped),
        body=answer.bodies.gzip if gzipped else answer.bodies.json,
        bodies=answer.bodies,
        gzipped=gzipped,
    )
