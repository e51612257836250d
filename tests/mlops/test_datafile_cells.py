"""Long cells are cut as a data file is read: a 52 MB value never reaches a frame whole, whatever the
format, and the reader says which columns had cells cut and how long the longest was.

Pure: no database, no Django."""

import io
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlops.datafiles.reading import CellCuts, iter_chunks, read_frame

LONG = 52_428_800  # characters of the hostile value (50 MiB)


def write(tmp_path, fmt: str, comments: list[str]):
    path = tmp_path / f"batch.{fmt}"
    frame = pd.DataFrame({"id": range(len(comments)), "comment": comments})
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in frame.to_dict("records")))
    else:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, compression="zstd")
    return path


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_a_long_value_is_cut_to_the_cap_with_the_clipping_marker(tmp_path, fmt):
    path = write(tmp_path, fmt, ["fine", "c" * LONG, "ok", "d" * 12_000])
    frame = read_frame(path, fmt, max_cell_chars=10_000)
    assert frame["comment"][0] == "fine" and frame["comment"][2] == "ok"
    assert frame["comment"][1] == "c" * 10_000 + f"…({LONG - 10_000:,} more bytes)"
    assert frame["comment"][3] == "d" * 10_000 + "…(2,000 more bytes)"
    assert frame.attrs["cut_cells"] == {"comment": {"cells": 2, "longest": LONG, "limit": 10_000}}

    cuts = CellCuts(10_000)
    chunks = list(iter_chunks(path, fmt, chunk_rows=2, dtypes={"comment": object}, max_cell_chars=10_000, cuts=cuts))
    assert [len(v) for chunk in chunks for v in chunk["comment"]] == [4, 10_024, 2, 10_019]
    assert cuts.as_dict() == {"comment": {"cells": 2, "longest": LONG, "limit": 10_000}}


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_a_file_without_long_values_reads_as_before(tmp_path, fmt):
    path = write(tmp_path, fmt, ["x" * 10_000, "short"])
    frame = read_frame(path, fmt, max_cell_chars=10_000)
    assert list(frame["comment"]) == ["x" * 10_000, "short"] and "cut_cells" not in frame.attrs
    cuts = CellCuts(10_000)
    assert sum(len(c) for c in iter_chunks(path, fmt, max_cell_chars=10_000, cuts=cuts)) == 2 and not cuts


def test_the_jsonl_reader_never_holds_the_long_value_in_its_frame(tmp_path):
    line = json.dumps({"id": 1, "comment": "é" * 30_000, "n": 0.1}).encode() + b"\n"
    frame = read_frame(io.BytesIO(line), "jsonl", max_cell_chars=100)
    assert frame["comment"][0] == "é" * 100 + "…(59,800 more bytes)" and frame["n"][0] == 0.1
    assert read_frame(io.BytesIO(line), "jsonl", max_cell_chars=None)["comment"][0] == "é" * 30_000
