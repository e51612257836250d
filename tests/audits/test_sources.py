"""Reading data files in chunks: integrity, encoding, errors the sender can act on, partitions, memory.

Pure engine tests: no database, no Django.
"""

import hashlib
import hmac
import json
import tracemalloc
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from audits.engine.columns import ColumnSpec
from audits.engine.profile import encode_kept_values, merge_profiles, profile_edges, profile_frame
from audits.engine.sources import duplicate_ids, profile_source
from mlops.datafiles.reading import (
    DataFileError,
    count_rows,
    first_bad_utf8_offset,
    iter_chunks,
    read_columns,
    scan_file,
)
from mlops.hashing import sha256_file
from tests.audits.profile_builders import SIGNUP_SPECS

NOW = datetime(2026, 10, 1, tzinfo=UTC)
SPECS = [*SIGNUP_SPECS, ColumnSpec("event_type", "categorical", "string")]


def signups(n=5_000, seed=11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    minutes = rng.gamma(2.0, 20.0, n).round(2)
    minutes[rng.random(n) < 0.03] = np.nan
    days = pd.to_datetime("2026-01-01") + pd.to_timedelta(rng.integers(0, 270, n), "D")
    return pd.DataFrame(
        {
            "meeting_minutes": minutes,
            "attendees": rng.integers(1, 40, n),
            "plan": rng.choice(["free", "pro", "team", "007"], n),
            "event_type": rng.choice(["meeting", "webinar", "conference", "meetup"], n),
            "signup_date": days.strftime("%Y-%m-%d"),
            "customer_id": [f"c{i:07d}" for i in range(n)],
        }
    )


def exact(profile):
    """A profile without its (randomised) KLL sketches and the quantiles read from them."""
    out = json.loads(json.dumps(encode_kept_values(profile)))  # kept values compared as their bytes
    for col in out["columns"].values():
        col.pop("sketch", None)
        col.pop("quantiles", None)
        if col["kind"] == "numeric" and col["count"]:
            col["mean"] = round(col["mean"], 9)
            col["m2"] = round(col["m2"] / col["count"], 6)
    return out


@pytest.fixture
def files(tmp_path):
    frame = signups()
    paths = {"csv": tmp_path / "batch.csv", "parquet": tmp_path / "batch.parquet", "jsonl": tmp_path / "batch.jsonl"}
    frame.to_csv(paths["csv"], index=False)
    frame.to_parquet(paths["parquet"], row_group_size=1_500)
    frame.to_json(paths["jsonl"], orient="records", lines=True)
    return frame, paths


# ---------------------------------------------------------------------------------------- integrity


def test_sha256_and_hmac_signatures(tmp_path):
    path = tmp_path / "batch.csv"
    path.write_bytes(b"plan\nfree\npro\n")
    digest = hashlib.sha256(b"plan\nfree\npro\n").hexdigest()
    key = b"pipeline-secret"
    signature = hmac.new(key, b"plan\nfree\npro\n", hashlib.sha256).hexdigest()

    assert sha256_file(path) == digest
    assert scan_file(path).sha256 == digest
    assert scan_file(path, sha256=digest.upper(), hmac_key=key, hmac_hex=signature).signature_problems == []

    problems = scan_file(path, sha256="0" * 64, hmac_key=b"another key", hmac_hex=signature).signature_problems
    assert problems[0].startswith("sha256 differs: expected 000")
    assert digest in problems[0]
    assert problems[1].startswith("HMAC signature does not match")

    path.write_bytes(b"plan\nfree\nPRO\n")  # tampered after signing
    assert scan_file(path, hmac_key=key, hmac_hex=signature).signature_problems == [
        "HMAC signature does not match: the file was altered or signed with another key."
    ]
    assert scan_file(path, hmac_key=key).signature_problems == [
        "HMAC signature missing: the file was expected to be signed."
    ]
    assert scan_file(path, hmac_hex=signature).signature_problems == [
        "The file carries an HMAC signature but no key is configured to check it."
    ]


def test_first_bad_utf8_byte_at_a_chunk_boundary(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"a" * 16 + b"\xff" + b"b" * 10)
    assert first_bad_utf8_offset(path, chunk=16) == 16  # first byte of the second read
    path.write_bytes(b"a" * 15 + b"\xff" + b"b" * 10)
    assert first_bad_utf8_offset(path, chunk=16) == 15  # last byte of the first read


def test_a_multibyte_character_split_across_reads_is_valid(tmp_path):
    path = tmp_path / "utf8.csv"
    text = "city\nMünchen\nSão Paulo\n東京\n".encode()
    path.write_bytes(text)
    for chunk in range(1, 8):  # every split point, including inside "東" (3 bytes)
        assert first_bad_utf8_offset(path, chunk=chunk) is None
    # a character whose continuation byte is wrong, split across two reads
    broken = "x" * 6 + "é"
    data = broken.encode()[:-1] + b"A" + b"tail"
    path.write_bytes(data)
    assert first_bad_utf8_offset(path, chunk=7) == 6
    # a character cut off by the end of the file
    path.write_bytes("abc東".encode()[:-1])
    assert first_bad_utf8_offset(path, chunk=2) == 3


def test_a_csv_that_is_not_utf8_names_the_first_bad_byte(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"city,n\nParis,1\n" + "Zürich,2\n".encode("latin-1"))
    with pytest.raises(DataFileError, match="not valid UTF-8: the first bad byte is at byte offset 16"):
        list(iter_chunks(path, "csv"))


# ------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_an_empty_file_is_refused(tmp_path, fmt):
    path = tmp_path / f"empty.{fmt}"
    path.write_bytes(b"")
    for call in (
        lambda: list(iter_chunks(path, fmt)),
        lambda: count_rows(path, fmt),
        lambda: profile_source(path, fmt, SPECS),
    ):
        with pytest.raises(DataFileError, match="^The file is empty.$"):
            call()


def test_garbage_that_claims_to_be_parquet(tmp_path):
    path = tmp_path / "batch.parquet"
    path.write_bytes(b"plan,country\nfree,DE\n" * 10)
    with pytest.raises(DataFileError, match="not a readable Parquet file"):
        list(iter_chunks(path, "parquet"))
    with pytest.raises(DataFileError, match="not a readable Parquet file"):
        count_rows(path, "parquet")


def test_a_truncated_csv_is_refused_with_its_last_line(tmp_path):
    path = tmp_path / "cut.csv"
    path.write_bytes(b"plan,country,meeting_minutes\nfree,DE,12\npro,FR,30\nteam,D")
    assert count_rows(path, "csv") == 3  # the last line has no line break but still counts
    with pytest.raises(DataFileError, match=r"truncated: its last line \(line 4\) has 2 of 3 fields"):
        list(iter_chunks(path, "csv"))


def test_an_unclosed_quote_and_a_row_with_extra_fields_name_their_lines(tmp_path):
    path = tmp_path / "quote.csv"
    path.write_bytes(b'plan,comment\nfree,ok\npro,"never closed\nteam,x\n')
    with pytest.raises(DataFileError, match="starts on line 3 is never closed"):
        list(iter_chunks(path, "csv"))

    rows = [b"plan,n"] + [b"free,%d" % i for i in range(10)] + [b"pro,1,surprise"] + [b"team,2"]
    path.write_bytes(b"\n".join(rows) + b"\n")
    with pytest.raises(DataFileError, match="^Line 12 has 3 fields but the header has 2.$"):
        list(iter_chunks(path, "csv", chunk_rows=3))  # the bad row is in the fourth chunk
    with pytest.raises(DataFileError, match="^Line 12 has 3 fields but the header has 2.$"):
        list(iter_chunks(path, "csv", chunk_rows=3, row_start=5))  # ... and in a partition


def test_a_jsonl_line_that_is_not_json_is_named(tmp_path):
    path = tmp_path / "batch.jsonl"
    path.write_text('{"plan": "free"}\n{"plan": "pro"}\n{"plan": "team",\n')
    with pytest.raises(DataFileError, match="^Line 3 is not valid JSON"):
        list(iter_chunks(path, "jsonl"))


# --------------------------------------------------------------------------------------- structure


def test_columns_and_row_counts(files):
    frame, paths = files
    for fmt, path in paths.items():
        assert read_columns(path, fmt) == list(frame.columns)
        assert count_rows(path, fmt) == len(frame)


def test_categorical_csv_columns_are_read_as_strings_in_every_chunk(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("code,n\n" + "".join(f"00{i % 3},{i}\n" for i in range(10)) + "A1,x\n")
    specs = [ColumnSpec("code", "categorical"), ColumnSpec("n", "numeric")]
    profile = profile_source(path, "csv", specs, edges={"n": ([], [])}, chunk_rows=4)
    assert profile["columns"]["code"]["counts"] == {"000": 4, "001": 3, "002": 3, "A1": 1}
    assert profile["columns"]["n"]["non_numeric"] == 1  # the last chunk's stray "x"
    assert profile["columns"]["n"]["count"] == 10


def test_parquet_csv_and_jsonl_give_the_same_profile(files):
    frame, paths = files
    edges = profile_edges(profile_frame(frame, SPECS, now=NOW))
    profiles = {
        fmt: profile_source(path, fmt, SPECS, edges=edges, chunk_rows=1_000, now=NOW) for fmt, path in paths.items()
    }
    assert exact(profiles["csv"]) == exact(profiles["parquet"]) == exact(profiles["jsonl"])
    assert exact(profiles["csv"]) == exact(profile_frame(frame, SPECS, edges=edges, now=NOW))
    assert profiles["csv"]["columns"]["plan"]["counts"]["007"] > 0


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_two_row_partitions_merge_into_the_whole_file(files, fmt):
    frame, paths = files
    n = len(frame)
    edges = profile_edges(profile_frame(frame, SPECS, now=NOW))
    whole = profile_source(paths[fmt], fmt, SPECS, edges=edges, chunk_rows=700, now=NOW)
    first = profile_source(paths[fmt], fmt, SPECS, edges=edges, chunk_rows=700, row_stop=n // 2, now=NOW)
    second = profile_source(paths[fmt], fmt, SPECS, edges=edges, chunk_rows=700, row_start=n // 2, row_stop=n, now=NOW)
    assert (first["rows"], second["rows"]) == (n // 2, n - n // 2)
    assert exact(merge_profiles(first, second)) == exact(whole)
    # the partition really is those rows
    head = next(iter_chunks(paths[fmt], fmt, row_start=n // 2, row_stop=n // 2 + 3))
    assert head["customer_id"].tolist() == frame["customer_id"].iloc[n // 2 : n // 2 + 3].tolist()


def test_profiling_a_reference_file_reads_it_twice_and_reports_progress(files):
    frame, paths = files
    seen = []
    profile = profile_source(paths["csv"], "csv", SPECS, chunk_rows=1_000, progress=seen.append, now=NOW)
    assert seen == sorted(seen) and seen[-1] == len(frame)
    assert profile["rows"] == len(frame)
    assert profile["columns"]["attendees"]["edges"] == [float(v) for v in range(1, 40)]
    minutes = profile["columns"]["meeting_minutes"]
    truth = frame["meeting_minutes"].dropna().to_numpy()
    cum = np.cumsum(minutes["psi_hist"])[:-1] / minutes["count"]
    assert np.all(np.abs(cum - np.arange(1, 10) / 10) < 0.02)
    assert minutes["mean"] == pytest.approx(truth.mean(), rel=1e-9)


def test_jsonl_with_missing_keys_counts_them_as_nulls(tmp_path):
    path = tmp_path / "batch.jsonl"
    records = [
        {"plan": "free", "attendees": 3},
        {"plan": "pro"},
        {},
        {"plan": None, "attendees": "lots"},
        {"attendees": 5},
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n\n")
    specs = [ColumnSpec("plan", "categorical"), ColumnSpec("attendees", "numeric")]
    profile = profile_source(path, "jsonl", specs, edges={"attendees": ([3.0], [3.0])}, chunk_rows=2)
    assert profile["rows"] == 5
    assert profile["columns"]["plan"] == {
        "kind": "categorical",
        "count": 2,
        "nulls": 3,
        "counts": {"free": 1, "pro": 1},
        "other": 0,
    }
    attendees = profile["columns"]["attendees"]
    assert (attendees["count"], attendees["nulls"], attendees["non_numeric"], attendees["hist"]) == (2, 2, 1, [1, 1])


# -------------------------------------------------------------------------------------- duplicates


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_duplicate_ids_are_found_across_chunk_boundaries(tmp_path, fmt):
    ids = [f"c{i}" for i in range(1_000)]
    ids[999] = "c0"  # repeats the very first id, 9 chunks later
    ids[500] = ids[499]  # straddles a boundary
    ids[700] = ids[701] = "c7"  # twice more
    frame = pd.DataFrame({"customer_id": ids, "plan": "free"})
    path = tmp_path / f"ids.{fmt}"
    {
        "csv": lambda: frame.to_csv(path, index=False),
        "parquet": lambda: frame.to_parquet(path, row_group_size=100),
        "jsonl": lambda: frame.to_json(path, orient="records", lines=True),
    }[fmt]()

    count, examples = duplicate_ids(path, fmt, "customer_id", chunk_rows=100)
    assert count == 4
    assert sorted(examples) == ["c0", "c499", "c7"]

    profile = profile_source(path, fmt, [ColumnSpec("customer_id", "id")], edges={}, chunk_rows=100)
    assert profile["columns"]["customer_id"]["duplicates"] == 4
    with pytest.raises(DataFileError, match="no column 'account'"):
        duplicate_ids(path, fmt, "account")


def test_integer_ids_and_many_chunks(tmp_path):
    path = tmp_path / "ids.parquet"
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 50_000, 60_000)
    pd.DataFrame({"id": ids}).to_parquet(path, row_group_size=1_000)
    count, _ = duplicate_ids(path, "parquet", "id", chunk_rows=1_000)  # 60 chunks: runs get merged
    assert count == len(ids) - len(np.unique(ids))


# ------------------------------------------------------------------------------------------ memory


def test_profiling_a_million_row_csv_keeps_memory_flat(tmp_path):
    n, columns = 1_000_000, 8
    rng = np.random.default_rng(5)
    path = tmp_path / "big.csv"
    data = rng.integers(0, 100_000, size=(n, columns))
    frame = pd.DataFrame(data, columns=[f"n{i}" for i in range(columns)])
    frame["plan"] = np.array(["free", "pro", "team"], dtype=object)[data[:, 0] % 3]
    frame.to_csv(path, index=False)
    in_memory = frame.memory_usage(deep=True).sum()  # ~ 64 MB of numbers + the plan strings
    specs = [ColumnSpec(c, "numeric") for c in frame.columns[:columns]] + [ColumnSpec("plan", "categorical")]
    edges = profile_edges(profile_frame(frame.head(10_000), specs))
    del frame, data

    tracemalloc.start()
    try:
        # rows: the count check_file gives an audit; above the exact limit no chunk keeps its values
        profile = profile_source(path, "csv", specs, edges=edges, chunk_rows=100_000, rows=n)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert profile["rows"] == n
    print(f"tracemalloc peak {peak / 1e6:.1f} MB; whole file in memory {in_memory / 1e6:.1f} MB")
    assert peak < 25_000_000 < in_memory / 3  # about one chunk's worth (8 MB of numbers), not the file's
