"""Column names checked before pandas sees them. Pure Python, no Django.

Pandas renames duplicate column names ("a", "a.1", "a.2", ...) in quadratic time: a 2 MB CSV whose
header is one million columns named "a" kept a worker busy for hours. So the header is read here in
linear time -- a CSV's first record with the csv module, within HEADER_BYTES; a Parquet file's
schema; a JSON-lines file's keys -- and refused when it names a column twice or has more columns
than the caller's limit.
"""

from __future__ import annotations

import csv
from collections import Counter

from mlops.clipping import MESSAGE_LIMIT, clip

from .errors import DataFileError

__all__ = ["HEADER_BYTES", "check_names", "csv_header"]

HEADER_BYTES = 4 * 1024 * 1024  # the longest CSV header read (1M one-letter names take 2 MB)


def csv_header(handle, *, limit: int = HEADER_BYTES) -> list[str]:
    """The header of a CSV open in binary (its first record that is not blank, as pandas skips blank
    lines), reading at most `limit` bytes; [] for a file of blank lines. Not UTF-8: UnicodeDecodeError."""
    seen = 0

    def lines():
        nonlocal seen
        encoding = "utf-8-sig"  # pandas drops a byte-order mark too
        while line := handle.readline(limit - seen + 1):
            seen += len(line)
            if seen > limit:
                raise DataFileError(
                    f"The header is longer than {limit:,} bytes: is the first line really a header of column names?"
                )
            yield line.decode(encoding)
            encoding = "utf-8"

    try:
        for record in csv.reader(lines()):
            if record and not (len(record) == 1 and not record[0].strip()):
                return record
    except csv.Error as e:
        raise DataFileError(f"The header could not be read: {clip(e, MESSAGE_LIMIT)}.") from None
    return []


def check_names(names: list[str], max_columns: int | None, *, unnamed_ok: bool = False) -> None:
    """Refuse more than `max_columns` names (None: no limit) and a name given twice. unnamed_ok: empty
    names are not duplicates (pandas names a CSV's unnamed columns by position)."""
    if max_columns is not None and len(names) > max_columns:
        raise DataFileError(f"The header has {len(names):,} columns; the limit is {max_columns:,}.")
    counts = Counter(names)
    if unnamed_ok:
        counts.pop("", None)
    repeated = {name: times for name, times in counts.items() if times > 1}
    if not repeated:
        return
    name, times = next(iter(repeated.items()))  # the first repeated name in the header's order
    more = len(repeated) - 1
    others = f" (and {more:,} other name{'s repeat' if more > 1 else ' repeats'})" if more else ""
    raise DataFileError(
        f"Column {clip(name)!r} appears {times:,} times in the header{others}; column names must be unique."
    )
