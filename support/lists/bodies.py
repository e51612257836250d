"""A serving list and the changes since a cursor as the JSON bytes polls are answered with: IDs in
groups sharing a type and an expiry (boosts also a weight), serialised once per change."""

import hashlib
import json
from datetime import datetime

from support import selectors


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


def dumps(data) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def _ending(expires_at: datetime | None) -> tuple:
    return (expires_at is not None, expires_at or datetime.min)


def _blacklist_groups(rows) -> list[dict]:
    """Blacklisted IDs grouped by (type, expiry): a bulk upload's IDs share both, so the list is
    mostly IDs (about 14 bytes each for 100,000 IDs instead of ~80 as one object per ID), and a
    serving system reads a group straight into a set. Groups and their IDs come sorted."""
    grouped: dict[tuple, list[str]] = {}
    for entity_type, entity_id, expires_at in rows:
        grouped.setdefault((entity_type, expires_at), []).append(entity_id)
    return [
        {"entity_type": t, "expires_at": _iso(exp), "entity_ids": ids}
        for (t, exp), ids in sorted(grouped.items(), key=lambda item: (item[0][0], _ending(item[0][1])))
    ]


def _boost_groups(rows) -> list[dict]:
    """Boosted IDs grouped by (type, weight, expiry), as _blacklist_groups."""
    grouped: dict[tuple, list[str]] = {}
    for entity_type, entity_id, weight, expires_at in rows:
        grouped.setdefault((entity_type, weight, expires_at), []).append(entity_id)
    return [
        {"entity_type": t, "weight": w, "expires_at": _iso(exp), "entity_ids": ids}
        for (t, w, exp), ids in sorted(grouped.items(), key=lambda item: (item[0][0], item[0][1], _ending(item[0][2])))
    ]


def _removed_groups(rows) -> list[dict]:
    grouped: dict[str, list[str]] = {}
    for entity_type, entity_id in sorted(rows):
        grouped.setdefault(entity_type, []).append(entity_id)
    return [{"entity_type": t, "entity_ids": ids} for t, ids in sorted(grouped.items())]


def serialise_list(found: selectors.ServingList, now: datetime) -> tuple[str, bytes]:
    """(weak ETag, JSON body) of a surface's list; the ETag hashes the lists, not when they were built."""
    lists = dumps({"blacklist": _blacklist_groups(found.blacklist), "boosts": _boost_groups(found.boosts)})
    next_expiry = _iso(found.next_expiry)
    digest = hashlib.blake2b(f"{found.surface}\n{next_expiry}\n".encode(), digest_size=16)
    digest.update(lists)
    head = dumps(
        {"surface": found.surface, "generated_at": _iso(now), "cursor": str(found.cursor), "next_expiry": next_expiry}
    )
    return f'W/"{digest.hexdigest()}"', head[:-1] + b"," + lists[1:]


def serialise_changes(found: selectors.ServingChanges) -> bytes:
    """The JSON answer to ?since=<cursor>: what was added and removed, in the list's groups."""
    return dumps(
        {
            "surface": found.surface,
            "generated_at": _iso(found.cursor.at),
            "since": str(found.since),
            "cursor": str(found.cursor),
            "next_expiry": _iso(found.next_expiry),
            "added": {
                "blacklist": _blacklist_groups(sorted(found.added_blacklist, key=_row_order)),
                "boosts": _boost_groups(sorted(found.added_boosts, key=_row_order)),
            },
            "removed": {
                "blacklist": _removed_groups(found.removed_blacklist),
                "boosts": _removed_groups(found.removed_boosts),
            },
        }
    )


def _row_order(row: tuple) -> tuple:
    return row[0], row[1]
