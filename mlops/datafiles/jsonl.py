"""JSON lines (one JSON object a line, blank lines skipped): the file's columns, a frame of a run of
lines that names the line at fault, and the chunk reader. Pure Python, no Django; reading.py is the
reader's front (formats, iter_chunks, read_frame) and calls these for jsonl."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pandas as pd

from mlops.clipping import MESSAGE_LIMIT, clip

from .cells import cut_jsonl_line
from .errors import DataFileError, not_utf8
from .headers import check_names
from .scanning import first_bad_utf8_offset

__all__ = ["iter_jsonl", "jsonl_columns", "jsonl_frame", "jsonl_keys"]


def jsonl_columns(path, max_columns: int | None = None) -> list[str]:
    """The keys of the first 1,000 records, in order of first appearance, checked as a header is."""
    names: dict[str, None] = {}
    for _, record in _records(path, limit=1000):
        names.update(dict.fromkeys(record))
    check_names(list(names), max_columns)
    return list(names)


def jsonl_keys(lines) -> list[str]:
    """The keys of the JSON objects among `lines`, in order of first appearance (other lines are left to
    the parser, which names them)."""
    names: dict[str, None] = {}
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            names.update(dict.fromkeys(record))
    return list(names)


def _records(path, limit: int | None = None):
    """(line number, dict) of the first `limit` records, for jsonl_columns."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                raise not_utf8(first_bad_utf8_offset(path)) from None
            except ValueError as e:
                raise DataFileError(f"Line {number} is not valid JSON: {clip(e, MESSAGE_LIMIT)}.") from None
            if not isinstance(record, dict):
                raise DataFileError(f"Line {number} is not a JSON object.")
            yield number, record
            limit = None if limit is None else limit - 1
            if limit == 0:
                return


def jsonl_frame(lines: list[bytes], numbers: list[int], path=None) -> pd.DataFrame:
    try:
        text = b"".join(lines).decode("utf-8")
    except UnicodeDecodeError:
        raise not_utf8(first_bad_utf8_offset(path) if path is not None else None) from None
    try:
        frame = pd.read_json(io.StringIO(text), lines=True, dtype=False, precise_float=True)
    except ValueError:
        frame = None
    if frame is None or len(frame) != len(lines):
        for number, raw in zip(numbers, lines):
            try:
                record = json.loads(raw)
            except ValueError as e:
                raise DataFileError(f"Line {number} is not valid JSON: {clip(e, MESSAGE_LIMIT)}.") from None
            if not isinstance(record, dict):
                raise DataFileError(f"Line {number} is not a JSON object.")
        raise DataFileError(f"Lines {numbers[0]}-{numbers[-1]} could not be read as JSON objects.")
    return frame


def iter_jsonl(path, chunk_rows, columns, row_start, row_stop, dtypes, cap) -> Iterator[pd.DataFrame]:
    row = 0
    lines: list[bytes] = []
    numbers: list[int] = []

    known = [c for c in jsonl_columns(path) if columns is None or c in set(columns)]

    def emit():
        frame = jsonl_frame(lines, numbers, path)
        if columns is not None:
            frame = frame[[c for c in frame.columns if c in set(columns)]]
        missing = [c for c in known if c not in frame.columns]
        if missing:  # a key absent from every record of this chunk is null there, not absent from the file
            frame = frame.assign(
                **{c: pd.Series([None] * len(frame), dtype=object, index=frame.index) for c in missing}
            )
        for c in frame.columns:
            if c in dtypes and frame[c].dtype != "str" and frame[c].dtype != object:
                strings = frame[c].astype(str).astype(object)
                strings[frame[c].isna().to_numpy()] = None
                frame[c] = strings
        return frame

    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            if row >= row_start:
                if row_stop is not None and row >= row_stop:
                    break
                lines.append(cut_jsonl_line(raw, *cap))
                numbers.append(number)
                if len(lines) >= chunk_rows:
                    yield emit()
                    lines, numbers = [], []
            row += 1
    if lines:
        yield emit()
