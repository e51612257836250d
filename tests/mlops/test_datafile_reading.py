"""The data-file reader's one pass over the bytes (scan_file) and whole-frame reads (read_frame).

Pure: no database, no Django."""

import hashlib
import hmac
import io
import random

import pandas as pd
import pytest

from mlops.datafiles.reading import DataFileError, count_rows, first_bad_utf8_offset, read_frame, scan_file

SAMPLES = [
    b"a,b\n1,2\n3,4\n",
    b"a,b\n1,2\n3,4",
    b"\n",
    b"x",
    b' \n\t\n{}\n\n  \r\n{"a": 1}',
    b'{"a": 1}\n\n\n{"a": 2}\n   ',
    b"\n\n\n",
    "ab\ncafé\nMünchen\n東京\n".encode(),
    b"a\nb\xffc\nd\n",
    "abc東".encode()[:-1],
]


def _bad_utf8(data: bytes) -> int | None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start
    return None


def _blank_lines(data: bytes) -> int:
    return sum(1 for line in io.BytesIO(data) if not line.strip())


@pytest.mark.parametrize("data", SAMPLES)
@pytest.mark.parametrize("block", [1, 2, 3, 5, 1 << 20])
def test_one_scan_agrees_with_reading_each_thing_separately(tmp_path, data, block):
    path = tmp_path / "f"
    path.write_bytes(data)
    scan = scan_file(path, fmt="jsonl", block=block)
    assert scan.sha256 == hashlib.sha256(data).hexdigest()
    assert scan.size == len(data)
    assert scan.bad_utf8_offset == first_bad_utf8_offset(path) == _bad_utf8(data)
    assert scan.newlines == data.count(b"\n")
    assert scan.ends_with_newline == data.endswith(b"\n")
    assert scan.lines == len(data.split(b"\n")) - (1 if data.endswith(b"\n") else 0)
    assert scan.blank_lines == _blank_lines(data)
    assert (
        count_rows(path, "jsonl", scan=scan)
        == count_rows(path, "jsonl")
        == len(data.split(b"\n")) - (1 if data.endswith(b"\n") else 0) - _blank_lines(data)
    )
    assert count_rows(path, "csv", scan=scan_file(path, fmt="csv", block=block)) == count_rows(path, "csv")


def test_random_bytes_scan_like_separate_reads(tmp_path):
    rng = random.Random(5)
    alphabet = [b"a", b" ", b"\n", b"\r", b"\t", "é".encode(), b"\xe6", b"{", b"\x0c"]
    for _ in range(200):
        data = b"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
        path = tmp_path / "r"
        path.write_bytes(data)
        scan = scan_file(path, fmt="jsonl", block=rng.randint(1, 7))
        assert (scan.bad_utf8_offset, scan.newlines, scan.blank_lines) == (
            _bad_utf8(data),
            data.count(b"\n"),
            _blank_lines(data),
        ), data
        assert first_bad_utf8_offset(path, chunk=rng.randint(1, 7)) == _bad_utf8(data)


def test_a_parquet_scan_only_hashes(tmp_path):
    path = tmp_path / "f.parquet"
    pd.DataFrame({"a": [1, 2]}).to_parquet(path)
    scan = scan_file(path, fmt="parquet")
    assert scan.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (scan.bad_utf8_offset, scan.newlines, scan.blank_lines) == (None, 0, None)
    assert count_rows(path, "parquet", scan=scan) == 2


def test_signature_problems_come_from_the_same_read(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"a\n1\n")
    key = b"k"
    good = hmac.new(key, b"a\n1\n", hashlib.sha256).hexdigest()
    digest = hashlib.sha256(b"a\n1\n").hexdigest()
    assert scan_file(path, sha256=f" {digest.upper()} ", hmac_key=key, hmac_hex=good.upper()).signature_problems == []
    assert scan_file(path).signature_problems == []
    assert scan_file(path, sha256="ab", hmac_key=key, hmac_hex="00").signature_problems == [
        f"sha256 differs: expected ab, the file has {digest}.",
        "HMAC signature does not match: the file was altered or signed with another key.",
    ]


# ------------------------------------------------------------------------------------ read_frame


def test_read_frame_from_a_handle_or_a_path(tmp_path):
    path = tmp_path / "h.csv"
    path.write_bytes(b"plan,upgraded\nfree,0\npro,1\nteam,1\n")
    assert list(read_frame(path, "csv")["plan"]) == ["free", "pro", "team"]
    with open(path, "rb") as handle:
        assert len(read_frame(handle, "csv", nrows=2)) == 2
    frame = pd.DataFrame({"plan": ["free", "pro", "team"], "upgraded": [0, 1, 1]})
    frame.to_parquet(tmp_path / "h.parquet")
    assert read_frame(tmp_path / "h.parquet", "parquet").equals(frame)
    assert read_frame(tmp_path / "h.parquet", "parquet", nrows=2).equals(frame.head(2))
    assert list(read_frame(tmp_path / "h.parquet", "parquet", nrows=0).columns) == ["plan", "upgraded"]
    frame.to_json(tmp_path / "h.jsonl", orient="records", lines=True)
    assert read_frame(tmp_path / "h.jsonl", "jsonl").equals(frame)


@pytest.mark.parametrize(
    "content,fmt,message",
    [
        (b"plan,upgraded\nfr\xe9e,0\n", "csv", "^The file is not valid UTF-8: the first bad byte is at byte offset 16"),
        (b"", "csv", "^The file is empty.$"),
        (b" \n\n", "csv", "^The file is empty.$"),
        (b"a,b\n1,2\n3,4,5\n", "csv", "^Line 3 has 3 fields but the header has 2.$"),
        (b"plan,upgraded\n", "parquet", "not a readable Parquet file"),
        (b'{"a": 1}\n{"a": \n', "jsonl", "^Line 2 is not valid JSON"),
        (b"a\n1\n", "xlsx", "Unsupported file format 'xlsx'"),
    ],
)
def test_read_frame_says_what_is_wrong(content, fmt, message):
    with pytest.raises(DataFileError, match=message):
        read_frame(io.BytesIO(content), fmt)
