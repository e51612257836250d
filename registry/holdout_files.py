"""Reading hold-out files into DataFrames, with errors that say exactly what is wrong.

Plain pandas, no Django: the gate and the registration check both read through here.
"""

import io

import pandas as pd
import pyarrow.parquet as pq

FORMATS = ("csv", "parquet")


class HoldoutFileError(ValueError):
    """The file cannot serve as hold-out data; the message is meant for the person who sent it."""


def guess_format(filename: str) -> str | None:
    lowered = filename.lower()
    if lowered.endswith((".csv", ".txt")):
        return "csv"
    if lowered.endswith((".parquet", ".pq")):
        return "parquet"
    return None


def _first_bad_utf8_byte(raw: bytes) -> int | None:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return None


def read_frame(handle, fmt: str, *, nrows: int | None = None) -> pd.DataFrame:
    """Read a CSV (UTF-8) or Parquet file from a binary handle."""
    if fmt not in FORMATS:
        raise HoldoutFileError(f"Unknown format '{fmt}'; use csv or parquet.")
    if fmt == "parquet":
        try:
            table = pq.read_table(handle)
        except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
            raise HoldoutFileError(f"The file is not readable as Parquet: {exc}") from exc
        frame = table.to_pandas()
        return frame.head(nrows) if nrows else frame

    raw = handle.read()
    bad = _first_bad_utf8_byte(raw)
    if bad is not None:
        raise HoldoutFileError(f"The CSV is not valid UTF-8: the first bad byte is at offset {bad}.")
    if not raw.strip():
        raise HoldoutFileError("The file is empty.")
    try:
        return pd.read_csv(io.BytesIO(raw), nrows=nrows)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise HoldoutFileError(f"The CSV does not parse: {exc}") from exc


def columns_of(handle, fmt: str) -> list[str]:
    """Column names only (cheap: Parquet reads the footer, CSV the first rows)."""
    if fmt == "parquet":
        try:
            return list(pq.read_schema(handle).names)
        except Exception as exc:
            raise HoldoutFileError(f"The file is not readable as Parquet: {exc}") from exc
    return list(read_frame(handle, fmt, nrows=5).columns)
