"""A data file's header is checked before pandas reads it: a name given twice, or more columns than
the configured limit, is refused at once (pandas renames duplicates in quadratic time: a 2 MB header
of one million "a" took hours). Messages that quote the file are bounded.

Pure: no database, no Django."""

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlops.clipping import clip
from mlops.datafiles.reading import DataFileError, iter_chunks, read_columns, read_frame

MILLION = 1_000_000


def million_a_csv(path):
    """The hostile file: a header of one million columns all named "a" (2 MB), and one row."""
    path.write_bytes(b",".join([b"a"] * MILLION) + b"\n" + b",".join([b"1"] * MILLION) + b"\n")
    return path


def test_a_million_column_header_is_refused_with_the_count(tmp_path):
    path = million_a_csv(tmp_path / "wide.csv")
    with pytest.raises(DataFileError, match=r"The header has 1,000,000 columns; the limit is 2,000\."):
        read_columns(path, "csv", max_columns=2000)


def test_a_million_duplicate_names_are_refused_without_a_column_limit(tmp_path):
    path = million_a_csv(tmp_path / "wide.csv")
    with pytest.raises(DataFileError, match=r"Column 'a' appears 1,000,000 times in the header"):
        read_columns(path, "csv")
    with pytest.raises(DataFileError, match="appears 1,000,000 times"):
        next(iter_chunks(path, "csv"))


def test_a_repeated_csv_column_is_refused_with_its_name(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("id,plan,amount,plan,id\n1,free,3,pro,2\n")
    with pytest.raises(DataFileError, match=r"Column 'id' appears 2 times in the header \(and 1 other name repeats\)"):
        read_columns(path, "csv", max_columns=2000)


def test_unnamed_csv_columns_are_not_duplicates(tmp_path):
    path = tmp_path / "unnamed.csv"
    path.write_text("\ufeffid,,,plan\n1,2,3,free\n")
    assert read_columns(path, "csv", max_columns=10) == ["id", "Unnamed: 1", "Unnamed: 2", "plan"]


def test_a_header_at_the_limit_is_read(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text(",".join(f"c{i}" for i in range(50)) + "\n" + ",".join("1" * 50) + "\n")
    assert len(read_columns(path, "csv", max_columns=50)) == 50
    with pytest.raises(DataFileError, match="The header has 50 columns; the limit is 49"):
        read_columns(path, "csv", max_columns=49)


def test_a_jsonl_record_with_a_million_keys_is_refused(tmp_path):
    path = tmp_path / "wide.jsonl"
    path.write_text(json.dumps({f"k{i}": 1 for i in range(MILLION)}) + "\n")
    with pytest.raises(DataFileError, match="The header has 1,000,000 columns; the limit is 2,000"):
        read_columns(path, "jsonl", max_columns=2000)
    with pytest.raises(DataFileError, match="1,000,000 columns"):
        read_frame(path, "jsonl", max_columns=2000)


def test_parquet_schemas_are_checked_too(tmp_path):
    twice = tmp_path / "twice.parquet"
    pq.write_table(pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"]), twice)
    with pytest.raises(DataFileError, match="Column 'a' appears 2 times"):
        read_columns(twice, "parquet")
    with pytest.raises(DataFileError, match="Column 'a' appears 2 times"):
        read_frame(twice, "parquet")
    wide = tmp_path / "wide.parquet"
    pq.write_table(pa.table({f"c{i}": [i] for i in range(30)}), wide)
    with pytest.raises(DataFileError, match="The header has 30 columns; the limit is 20"):
        read_columns(wide, "parquet", max_columns=20)
    with pytest.raises(DataFileError, match="The header has 30 columns; the limit is 20"):
        read_frame(wide, "parquet", max_columns=20)


def test_read_frame_checks_a_csv_header_before_reading_the_file(tmp_path):
    path = million_a_csv(tmp_path / "wide.csv")
    with open(path, "rb") as handle, pytest.raises(DataFileError, match="1,000,000 columns"):
        read_frame(handle, "csv", nrows=5, max_columns=2000)
    handle = io.BytesIO(b"x,y,x\n1,2,3\n")
    with pytest.raises(DataFileError, match="Column 'x' appears 2 times"):
        read_frame(handle, "csv")
    assert list(read_frame(io.BytesIO(b"x,y\n1,2\n"), "csv", max_columns=2).columns) == ["x", "y"]


# --- long values --------------------------------------------------------------------------------


def test_clip_keeps_short_text_and_counts_the_bytes_it_leaves_out():
    assert clip("free") == "free"
    assert clip("x" * 250) == "x" * 200 + "…(50 more bytes)"
    assert clip("é" * 201) == "é" * 200 + "…(2 more bytes)"
    assert clip(b"y" * 5_000_000, 10) == "y" * 10 + "…(4,999,990 more bytes)"


@pytest.mark.parametrize("megabytes", [5, 20])
def test_a_single_line_csv_gets_a_short_error(tmp_path, megabytes):
    path = tmp_path / "line.csv"
    path.write_bytes(b"h" * (megabytes * 1024 * 1024))
    for read in (lambda: read_columns(path, "csv"), lambda: read_frame(path, "csv", nrows=5)):
        with pytest.raises(DataFileError) as refused:
            read()
        assert len(str(refused.value)) < 500


def test_a_bad_json_line_with_a_long_value_gets_a_short_error(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": "' + "v" * 5_000_000 + '", nope}\n')
    with pytest.raises(DataFileError, match="Line 1 is not valid JSON") as refused:
        read_columns(path, "jsonl")
    assert len(str(refused.value)) < 1500
