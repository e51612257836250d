"""One severity model, held by the real checks: for every check kind the engine reports, a batch a
user could send (nulls, a drifted feature, a new category, a flipped date format, a short feed, a
serving log missing a feature…) goes through the engine's `judge` against a training reference, and
the finding's status is what the suite's rule says, its severity is the alert's, the verdict is the
worst finding, and a suite that sets the check to "warning" turns a failure into a warning that says
so. Nulls and drift also go through the audit service, to the stored alert."""

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audits.engine import audit
from audits.engine.audit import judge
from audits.engine.checks import CHECK_KINDS, alert_severity, verdict
from audits.engine.columns import ColumnSpec
from audits.engine.profile import profile_edges, profile_frame
from audits.engine.suite import ColumnRules, Suite
from audits.models import Alert, AlertState, AuditState
from audits.services.jobs import _record
from tests.audits.factories import AuditJobFactory

N = 1_000
NOW = datetime(2026, 11, 1)
RANK = {"fail": 0, "warn": 1, "not_checked": 2, "pass": 3}
# Kinds that belong to the batch as a whole: a column's severity_overrides do not reach them.
WHOLE_BATCH = {"schema", "integrity", "volume", "volume_zscore", "volume_bytes"}
# Kinds the engine's judge path cannot produce from data, each with the reason. None so far.
NOT_FROM_DATA: dict[str, str] = {}


@dataclass
class Case:
    """A reference and a batch whose `column` trips `kind` to `expected` under the suite `rules`."""

    expected: str
    column: str | None
    reference: pd.DataFrame
    batch: pd.DataFrame
    specs: list[ColumnSpec]
    rules: dict = field(default_factory=dict)  # ColumnRules fields for `column`
    history: list = field(default_factory=list)
    roles: dict | None = None
    serving: dict | None = None
    label: str | None = None
    bytes: int | None = None
    via_file: dict | None = None  # read from CSV files: check_file's and profile_rows' extra arguments


def rng(seed: int = 0):
    return np.random.default_rng(seed)


def x_frames(batch_x, *, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.DataFrame({"x": rng(seed).normal(50, 10, N)}), pd.DataFrame({"x": batch_x})


def numeric(batch_x, expected: str, specs=None, **kw) -> Case:
    reference, batch = x_frames(batch_x)
    return Case(expected, "x", reference, batch, specs or [ColumnSpec("x", "numeric")], **kw)


def dates(fmt: str, *, extra=(), seed: int = 1) -> pd.Series:
    days = pd.Series(pd.date_range("2026-01-01", "2026-09-30", freq="D"))
    picked = days.sample(N - len(extra), replace=True, random_state=seed).dt.strftime(fmt)
    return pd.concat([picked, pd.Series(list(extra), dtype=object)], ignore_index=True)


def timestamp(batch: pd.Series, expected: str, **kw) -> Case:
    reference = pd.DataFrame({"d": dates("%d-%m-%Y", seed=2)})
    return Case(expected, "d", reference, pd.DataFrame({"d": batch}), [ColumnSpec("d", "timestamp")], **kw)


PLANS = ["free", "pro", "team"]


def plans(p, *, seed: int, values=PLANS) -> pd.DataFrame:
    return pd.DataFrame({"plan": rng(seed).choice(values, N, p=p)})


def categorical(batch: pd.DataFrame, expected: str) -> Case:
    return Case(expected, "plan", plans([0.5, 0.3, 0.2], seed=3), batch, [ColumnSpec("plan", "categorical")])


WORDS = ["the", "meeting", "ran", "long", "and", "the", "team", "agreed", "on", "next", "steps", "for", "the", "launch"]
OTHER_WORDS = ["invoice", "overdue", "payment", "failed", "card", "declined", "refund", "urgently", "today"]


def sentences(words, length: int, *, seed: int) -> list[str]:
    r = rng(seed)
    return [" ".join(r.choice(words, length)) for _ in range(N)]


def text(batch: list[str], expected: str, **kw) -> Case:
    reference = pd.DataFrame({"note": sentences(WORDS, 8, seed=4)})
    return Case(expected, "note", reference, pd.DataFrame({"note": batch}), [ColumnSpec("note", "text")], **kw)


def history(rows: int, bytes_per_row: float, *, jitter=(-10, 5, 0, 8, -4, 3)) -> list[tuple[int, int]]:
    return [(rows + d, int((rows + d) * bytes_per_row)) for d in jitter]


def volume(batch_rows: int, expected: str, *, bytes_factor: float = 1.0) -> Case:
    """A batch of `batch_rows` after six of about N rows each, their files `bytes_factor` times its size per row."""
    reference, batch = pd.DataFrame({"x": rng(5).normal(50, 10, N)}), pd.DataFrame({"x": shifted(0, n=batch_rows)})
    per_row = len(batch.to_csv(index=False).encode()) / batch_rows
    specs = [ColumnSpec("x", "numeric")]
    return Case(expected, None, reference, batch, specs, history=history(N, per_row * bytes_factor))


def serving(batch: pd.DataFrame, expected: str, column: str, *, features=("x",), processing=None, **kw) -> Case:
    specs = [ColumnSpec(name, "numeric") for name in features]
    reference = pd.DataFrame({name: rng(7).normal(50, 10, N) for name in features})
    return Case(
        expected,
        column,
        reference,
        batch,
        specs,
        serving={"features": list(features), "processing": processing or {}},
        **kw,
    )


def labelled(expected: str, **rules) -> Case:
    """Training where x goes with the label (ρ ≈ 0.8); a batch where it no longer does."""
    r = rng(8)
    x = r.normal(50, 10, 2 * N)
    reference = pd.DataFrame({"x": x, "label": (x + r.normal(0, 5, 2 * N) > 50).astype(int)})
    batch = pd.DataFrame({"x": r.normal(50, 10, 2 * N), "label": r.integers(0, 2, 2 * N)})
    specs = [ColumnSpec("x", "numeric"), ColumnSpec("label", "numeric")]
    return Case(expected, "x", reference, batch, specs, rules=rules, roles={"label": "label"}, label="label")


def shifted(by: float, *, seed: int = 9, n: int = N) -> np.ndarray:
    return rng(seed).normal(50 + by, 10, n)


def with_nulls(share: float) -> np.ndarray:
    values = shifted(0)
    values[: int(share * N)] = np.nan
    return values


def case_nulls() -> Case:
    return numeric(with_nulls(0.30), "fail", rules={"max_null_share": 0.10, "max_null_increase": 0.02})


def case_type_mismatch() -> Case:
    values = shifted(0).astype(object)
    values[:30] = "twelve"
    return numeric(values, "fail")


def case_extreme_values() -> Case:
    values = shifted(0)
    values[:5] = np.inf
    values[5:8] = 1e200
    return numeric(values, "warn")


def case_declared_bounds() -> Case:
    values = shifted(0)
    values[:20] = -5.0
    spec = ColumnSpec("x", "numeric", min_value=0)
    return numeric(values, "fail", specs=[spec], rules={"min_value": 0})


def case_new_categories() -> Case:
    return categorical(plans([0.45, 0.25, 0.2, 0.1], seed=10, values=PLANS + ["enterprise"]), "fail")


def case_date_format() -> Case:
    return timestamp(dates("%m-%d-%Y", seed=11), "fail")


def case_unparseable_dates() -> Case:
    return timestamp(dates("%d-%m-%Y", extra=["soon"] * 50, seed=12), "fail")


def case_future_dates() -> Case:
    return timestamp(dates("%d-%m-%Y", extra=["01-01-2031"] * 20, seed=13), "fail")


def case_ancient_dates() -> Case:
    return timestamp(dates("%d-%m-%Y", extra=["01-01-1850"] * 5, seed=14), "warn")


def case_date_range() -> Case:
    return timestamp(dates("%d-%m-%Y", extra=["15-06-2025"] * 5, seed=15), "warn", rules={"date_min": "2026-01-01"})


def case_duplicates() -> Case:
    ids = [f"C{i}" for i in range(N)]
    batch = pd.DataFrame({"customer_id": ids[:-12] + ids[:12]})
    reference = pd.DataFrame({"customer_id": ids})
    return Case("fail", "customer_id", reference, batch, [ColumnSpec("customer_id", "id")])


def case_cut_cells() -> Case:
    case = text([("word " * 60).strip()] * 10 + sentences(WORDS, 8, seed=16)[10:], "warn")
    return replace(case, via_file={"max_cell_chars": 100})


def case_integrity() -> Case:
    reference, batch = x_frames(shifted(0))
    return Case("fail", None, reference, batch, [ColumnSpec("x", "numeric")], via_file={"received_sha256": "0" * 64})


def case_prediction_drift() -> Case:
    r = rng(17)
    reference = pd.DataFrame({"score": r.beta(1.2, 6, N)})
    batch = pd.DataFrame({"score": r.beta(4, 3, N)})
    specs = [ColumnSpec("score", "numeric")]
    # Past the PSI fail limit, but prediction drift is a warning-level check: it warns.
    return Case("warn", "score", reference, batch, specs, roles={"prediction": "score"})


CASES = {
    "schema": lambda: Case(
        "fail",
        "y",
        pd.DataFrame({"x": shifted(0), "y": shifted(0, seed=18)}),
        pd.DataFrame({"x": shifted(0, seed=19)}),
        [ColumnSpec("x", "numeric"), ColumnSpec("y", "numeric")],
    ),
    "nulls": case_nulls,
    "type_mismatch": case_type_mismatch,
    "extreme_values": case_extreme_values,
    "declared_bounds": case_declared_bounds,
    "range": lambda: numeric(shifted(100), "warn"),
    "new_categories": case_new_categories,
    "category_shares": lambda: categorical(plans([0.8, 0.1, 0.1], seed=20), "warn"),
    "date_format": case_date_format,
    "unparseable_dates": case_unparseable_dates,
    "future_dates": case_future_dates,
    "ancient_dates": case_ancient_dates,
    "date_range": case_date_range,
    "text_length": lambda: text(sentences(WORDS, 1, seed=21), "warn"),
    "text_words": lambda: text(sentences(OTHER_WORDS, 8, seed=22), "warn"),
    "duplicates": case_duplicates,
    "drift": lambda: numeric(shifted(10), "fail"),
    "volume": lambda: volume(200, "fail"),
    "volume_zscore": lambda: volume(1_200, "warn"),
    "volume_bytes": lambda: volume(N, "warn", bytes_factor=5.0),
    "cut_cells": case_cut_cells,
    "prediction_drift": case_prediction_drift,
    "skew_missing": lambda: serving(pd.DataFrame({"x": shifted(0)}), "fail", "y", features=("x", "y")),
    "skew_nulls": lambda: serving(pd.DataFrame({"x": with_nulls(0.30)}), "fail", "x", rules={"max_null_share": 0.10}),
    # Past the PSI fail limit, but skew drift is a warning-level check: it warns.
    "skew_drift": lambda: serving(pd.DataFrame({"x": shifted(10)}), "warn", "x"),
    # Processing that nulls most values the requests carried is an error: the model runs without x.
    "skew_processing": lambda: serving(
        pd.DataFrame({"x": shifted(0)}), "fail", "x", processing={"x": {"rows": N, "dropped": 600}}
    ),
    "target_correlation": lambda: labelled("fail", target_corr_fail=0.4),
    "integrity": case_integrity,
}


def suite_for(case: Case, kind: str, severity: str | None = None) -> Suite:
    if case.column is None or kind in WHOLE_BATCH:
        return Suite()
    spec = next((s for s in case.specs if s.name == case.column), None)
    overrides = {kind: severity} if severity else {}
    rules = ColumnRules(kind=spec.kind if spec else "numeric", severity_overrides=overrides, **case.rules)
    return Suite(columns={case.column: rules})


def profiles(case: Case, tmp: Path | None) -> tuple[dict, dict, dict]:
    """(reference profile, batch profile, facts) as an audit job makes them."""
    if case.via_file is None:
        reference = profile_frame(case.reference, case.specs, target_column=case.label, now=NOW)
        edges = profile_edges(reference)
        batch = profile_frame(case.batch, case.specs, edges=edges, target_column=case.label, now=NOW)
        size = case.bytes or len(case.batch.to_csv(index=False).encode())
        facts = {"columns": list(case.batch.columns), "rows": len(case.batch), "bytes": size, "integrity_problems": []}
        return reference, batch, facts
    ref_path, batch_path = tmp / "reference.csv", tmp / "batch.csv"
    case.reference.to_csv(ref_path, index=False)
    case.batch.to_csv(batch_path, index=False)
    options = dict(case.via_file)
    cells = {"max_cell_chars": options.pop("max_cell_chars")} if "max_cell_chars" in options else {}
    ref_facts = audit.check_file(ref_path, "csv", max_bytes=10**8)
    reference = audit.build_reference(ref_path, "csv", case.specs, ref_facts, target_column=case.label)
    facts = audit.check_file(batch_path, "csv", max_bytes=10**8, **options)
    batch = audit.profile_rows(
        batch_path, "csv", reference=reference, specs=case.specs, facts=facts, target_column=case.label, **cells
    )
    return reference, batch, facts


def run(case: Case, kind: str, tmp: Path, severity: str | None = None):
    reference, batch, facts = profiles(case, tmp)
    findings, judged = judge(
        batch,
        reference=reference,
        specs=case.specs,
        suite=suite_for(case, kind, severity),
        facts=facts,
        history=case.history,
        roles=case.roles,
        serving=case.serving,
    )
    (finding,) = [f for f in findings if f.check == kind and f.column == case.column]
    return finding, findings, judged, batch, facts


def worst(findings) -> str:
    statuses = {f.status for f in findings} - {"not_checked"}
    return min(statuses, key=RANK.__getitem__) if statuses & {"fail", "warn"} else "pass"


CASE_OF = {kind: build() for kind, build in CASES.items()}
LOWERED = sorted(k for k, c in CASE_OF.items() if c.expected == "fail" and k not in WHOLE_BATCH)


def test_every_check_kind_has_a_real_case_or_a_stated_reason():
    assert set(CASES) | set(NOT_FROM_DATA) == set(CHECK_KINDS)
    assert not set(CASES) & set(NOT_FROM_DATA)
    assert NOT_FROM_DATA == {}  # every kind is produced from data; a new exception needs its reason here


@pytest.mark.parametrize("kind", [k for k in CHECK_KINDS if k not in NOT_FROM_DATA])
def test_the_real_check_trips_to_the_suites_status_and_the_verdict_and_alert_follow(kind, tmp_path):
    case = CASE_OF[kind]
    finding, findings, judged, _, _ = run(case, kind, tmp_path)
    assert finding.status == case.expected, finding.message
    assert finding.severity == alert_severity(finding.status)
    assert judged == verdict(findings) == worst(findings)
    assert RANK[judged] <= RANK[finding.status]
    assert verdict([finding]) == case.expected


@pytest.mark.parametrize("kind", LOWERED)
def test_a_suite_that_sets_the_check_to_warning_turns_its_failure_into_a_warning_that_says_so(kind, tmp_path):
    case = CASE_OF[kind]
    finding, findings, judged, _, _ = run(case, kind, tmp_path, severity="warning")
    assert (finding.status, finding.severity) == ("warn", "warning"), finding.message
    assert f"The suite sets {kind} to warning, so it warns instead of failing." in finding.message
    assert finding.details["capped"] == {"status": "fail", "suite_severity": "warning"}
    assert judged == worst(findings)


def test_a_drift_past_the_warning_limit_only_warns():
    case = replace(CASE_OF["drift"], rules={"drift_psi_fail": 5.0})
    finding, findings, judged, _, _ = run(case, "drift", None)
    assert (finding.status, finding.severity) == ("warn", "warning") and "warning at 0.1" in finding.message


def test_a_null_share_up_past_the_increase_limit_only_warns():
    case = numeric(with_nulls(0.06), "warn", rules={"max_null_share": 0.10, "max_null_increase": 0.02})
    finding, findings, judged, _, _ = run(case, "nulls", None)
    assert (finding.status, finding.severity, verdict([finding])) == ("warn", "warning", "warn")
    assert "capped" not in finding.details


@pytest.mark.parametrize("kind", ["nulls", "drift"])
def test_the_stored_alert_carries_the_findings_severity(db, kind):
    finding, findings, judged, profile, facts = run(CASE_OF[kind], kind, None)
    job = _record(AuditJobFactory(state=AuditState.RUNNING).pk, findings, judged, profile, facts)
    stored = job.findings.get(check_name=kind, column="x")
    alert = Alert.objects.get(model=job.model, check_name=kind, column="x", state=AlertState.OPEN)
    assert (stored.status, stored.severity, alert.severity, job.verdict) == ("fail", "error", "error", "fail")
    assert alert.severity == alert_severity(finding.status)
