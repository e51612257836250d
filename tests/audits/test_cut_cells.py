"""An incoming batch holding a 50 MB value: the audit cuts it as the file is read, says so in one
finding on that column, and keeps its findings and profile small. A batch without such a value gets
no such finding.

Pure: the audit engine on files, no database."""

import json

import pytest

from audits.engine import audit as engine
from audits.engine.columns import ColumnSpec
from audits.engine.suite import suggest_suite

SPECS = [ColumnSpec("id", "id", "int"), ColumnSpec("comment", "text", "string")]
LONG = 52_428_800


def jsonl(path, comments):
    path.write_text("".join(json.dumps({"id": i, "comment": c}) + "\n" for i, c in enumerate(comments)))
    return path


@pytest.fixture
def reference(tmp_path):
    path = jsonl(tmp_path / "train.jsonl", [f"refund asked for order {i}" for i in range(300)])
    profile = engine.build_reference(path, "jsonl", SPECS, engine.check_file(path, "jsonl", max_bytes=10**9))
    return profile


def audit(path, reference, **options):
    facts = engine.check_file(path, "jsonl", max_bytes=10**9)
    suite = suggest_suite(reference, SPECS)
    return engine.audit_file(path, "jsonl", reference=reference, specs=SPECS, suite=suite, facts=facts, **options)


def test_three_long_cells_are_cut_and_reported_once(tmp_path, reference):
    comments = [f"refund for order {i}" for i in range(200)]
    comments[5], comments[50], comments[150] = "x" * LONG, "y" * 20_000, "z" * 10_001
    findings, verdict, profile = audit(jsonl(tmp_path / "batch.jsonl", comments), reference, max_cell_chars=10_000)
    [cut] = [f for f in findings if f.check == "cut_cells"]
    assert cut.message == (
        "3 cells in 'comment' were longer than 10,000 characters and were cut; the longest had 52,428,800."
    )
    assert (cut.column, cut.severity, cut.status) == ("comment", "warning", "warn")
    assert cut.details == {"cells": 3, "longest": LONG, "limit": 10_000}
    assert profile["cut_cells"] == {"comment": {"cells": 3, "longest": LONG, "limit": 10_000}}
    assert len(json.dumps(profile)) < 20_000
    assert sum(len(f.message) + len(json.dumps(f.details, default=str)) for f in findings) < 20_000


def test_a_batch_without_long_cells_has_no_such_finding(tmp_path, reference):
    comments = ["x" * 10_000] + [f"refund for order {i}" for i in range(199)]
    findings, _, profile = audit(jsonl(tmp_path / "batch.jsonl", comments), reference, max_cell_chars=10_000)
    assert not [f for f in findings if f.check == "cut_cells"] and "cut_cells" not in profile


def test_partitions_add_up_their_cut_cells(tmp_path, reference):
    comments = [f"refund {i}" for i in range(100)]
    comments[10], comments[90] = "a" * 30_000, "b" * 40_000
    path = jsonl(tmp_path / "batch.jsonl", comments)
    facts = engine.check_file(path, "jsonl", max_bytes=10**9)
    parts = [
        engine.profile_rows(path, "jsonl", reference=reference, specs=SPECS, facts=facts, row_start=a, row_stop=b)
        for a, b in ((0, 50), (50, 100))
    ]
    merged = engine.merge_partitions(path, "jsonl", parts, SPECS, facts)
    assert merged["cut_cells"] == {"comment": {"cells": 2, "longest": 40_000, "limit": 10_000}}
