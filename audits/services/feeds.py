"""Feeds: where a batch came from. An alert belongs to the feed whose audit raised it, and only a
later audit of the same feed resolves it, so a file from elsewhere (or last month's file sent again)
cannot silently close another feed's incident.

A batch's feed is, in this order:

- `schedule:<id>`: the audit schedule that started it (whatever path or window the schedule reads);
- `serving:v<N>`: an audit of version N's serving log started by hand or through the API;
- `path:<pattern>`: a file read under the data root, named by its path's pattern;
- `upload:<sender>:<pattern>`: an uploaded file, named by who sent it and its file name's pattern.

Alerts that relabelling raises (a model's live accuracy below its minimum) have the feed `relabelling`:
only a later estimate of a relabelling campaign resolves them.

A pattern is the path or file name with every run of digits written `#`: dated files of one export
(`signups-2026-10.csv`, `signups-2026-11.csv`) are one feed, `signups-#-#.csv`.
"""

import re
from pathlib import PurePosixPath

__all__ = ["feed_key", "feed_pattern", "feed_describe"]

_DIGITS = re.compile(r"[0-9]+")


def feed_pattern(name: str) -> str:
    """A path or file name with each run of digits written `#`."""
    return _DIGITS.sub("#", name)


def feed_key(*, batch, schedule=None, serving_version: int | None = None, sent_name: str = "") -> str:
    """The feed of an audited batch (see the module's description). `sent_name` is the name the file
    was uploaded under (default: the batch's name); `serving_version` marks a serving-log export."""
    if schedule is not None:
        return f"schedule:{schedule.pk}"
    if serving_version is not None:
        return f"serving:v{serving_version}"
    if batch.storage_path:
        return f"path:{feed_pattern(batch.storage_path)}"
    name = PurePosixPath((sent_name or batch.name).replace("\\", "/")).name
    return f"upload:{batch.created_by.get_username()}:{feed_pattern(name)}"


def feed_describe(feed: str) -> str:
    """A feed key in words, for pages."""
    kind, _, rest = feed.partition(":")
    if kind == "schedule":
        return f"schedule #{rest}"
    if kind == "serving":
        return f"serving log of {rest}"
    if kind == "path":
        return f"files at {rest}"
    if kind == "relabelling":
        return "relabelling campaigns"
    if kind == "upload":
        sender, _, name = rest.partition(":")
        return f"{name} sent by {sender}"
    return feed or "feed not recorded (before feeds were kept)"
