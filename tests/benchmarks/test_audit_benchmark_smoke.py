"""Smoke test of the audit benchmark's Keel side (benchmarks/audit_throughput.py), so it cannot silently rot.

No timings are asserted: a small generated pair (the benchmark's own generator, 5,000 rows) is audited by
benchmarks/keel_audit.py exactly as the benchmark runs it -- a child process whose last stdout line is its
JSON summary -- and the drift injected into the current file must be found.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import audit_throughput  # noqa: E402
import bench_data  # noqa: E402

ROWS = 5_000


@pytest.fixture(scope="module")
def small_pair(tmp_path_factory):
    work = tmp_path_factory.mktemp("bench")
    return {kind: bench_data.ensure_dataset(work, kind, ROWS)[0] for kind in ("reference", "current")}


@pytest.fixture(scope="module")
def keel_summary(small_pair):
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "keel_audit.py"),
            str(small_pair["reference"]),
            str(small_pair["current"]),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_generator_is_deterministic_and_injects_the_drift(small_pair, tmp_path):
    import pyarrow.parquet as pq

    again = bench_data.write_dataset(tmp_path / "again.parquet", "current", ROWS)
    first, second = pq.read_table(small_pair["current"]), pq.read_table(again)
    assert first.equals(second)
    assert first.num_rows == ROWS and first.column_names == bench_data.COLUMNS
    reference = pq.read_table(small_pair["reference"]).to_pandas()
    current = first.to_pandas()
    assert current["num_normal"].mean() - reference["num_normal"].mean() == pytest.approx(5.0, abs=0.6)
    assert bench_data.NEW_CATEGORY[1] in set(current[bench_data.NEW_CATEGORY[0]])
    assert bench_data.NEW_CATEGORY[1] not in set(reference[bench_data.NEW_CATEGORY[0]])
    for column in bench_data.NULLED:
        assert reference[column].isna().sum() == 0 and current[column].isna().mean() > 0.03


def test_keel_side_audits_the_whole_file(keel_summary):
    assert keel_summary["tool"] == "keel"
    assert keel_summary["current_rows"] == ROWS == keel_summary["reference_rows"] == keel_summary["profile_rows"]
    assert keel_summary["verdict"] != "pass"
    assert {"build_reference", "audit_file"} <= set(keel_summary["timings_s"])


def test_keel_side_finds_the_injected_drift(keel_summary):
    flagged = keel_summary["flagged"]
    for column in bench_data.DRIFTED_NUMERIC + bench_data.DRIFTED_CATEGORICAL:
        statuses = {check: status for check, status in flagged.get(column, {}).items() if "drift" in check}
        assert statuses and set(statuses.values()) <= {"warn", "fail"}, (column, flagged.get(column))
    for column in bench_data.NULLED:
        assert column in flagged, (column, flagged)
    # and the benchmark's own check of the result agrees (stable numeric columns not flagged as drifted)
    found, problems = audit_throughput.keel_found_drift(keel_summary)
    assert found, problems
