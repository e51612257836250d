"""HTTP entity tags: making one from a response's bytes and answering If-None-Match.

Pure Python, no Django.
"""

import hashlib


def etag_for(payload: bytes, *, length: int = 32) -> str:
    """A strong ETag: the first `length` hex digits of the payload's sha256, quoted."""
    return '"' + hashlib.sha256(payload).hexdigest()[:length] + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names `etag`: the weak comparison RFC 9110 prescribes for it
    (a W/ prefix on either side is ignored), `*` matches any, and the header may list several tags
    separated by commas."""
    if not if_none_match:
        return False
    bare = etag.strip().removeprefix("W/")
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == bare:
            return True
    return False
