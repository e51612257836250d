"""A whole audit of one data file, without Django: file checks, profile on the reference's bins,
quality and drift findings, verdict. The audits app runs it as a job; the benchmark runs it bare."""

from collections.abc import Callable
from pathlib import Path

from mlops.datafiles import reading

from . import checks, sources
from .columns import ColumnSpec
from .profile import merge_profiles
from .suite import Suite


class AuditInputError(ValueError):
    """The data cannot be audited; the message says why, for the person who sent it."""


def check_file(
    path: Path,
    fmt: str,
    *,
    max_bytes: int,
    received_sha256: str | None = None,
    declared_sha256: str | None = None,
    hmac_key: bytes | None = None,
    signature: str | None = None,
    max_columns: int | None = None,
) -> dict:
    """What can be known of a file before reading its rows, from one read of its bytes (and, for the
    columns, its header or footer). Refuses what cannot be audited (empty, too large, not UTF-8, no
    rows, a header with a name given twice or more than `max_columns` columns); records integrity
    problems (tampering) as facts to report."""
    size = path.stat().st_size
    if size == 0:
        raise AuditInputError("The file is empty.")
    if size > max_bytes:
        raise AuditInputError(f"The file is {size} bytes; the limit is {max_bytes} bytes.")
    scan = reading.scan_file(
        path,
        fmt=fmt,
        sha256=declared_sha256 or None,
        hmac_key=hmac_key if signature else None,
        hmac_hex=signature or None,
    )
    if fmt in ("csv", "jsonl") and scan.bad_utf8_offset is not None:
        raise AuditInputError(f"The file is not valid UTF-8: the first bad byte is at offset {scan.bad_utf8_offset}.")
    problems = list(scan.signature_problems)
    if received_sha256 and scan.sha256 != received_sha256:
        problems.append("The stored file no longer matches the bytes Keel received.")
    columns = reading.read_columns(path, fmt, max_columns=max_columns)
    rows = reading.count_rows(path, fmt, scan=scan)
    if rows == 0:
        raise AuditInputError("The file has a header but no rows.")
    return {"bytes": size, "sha256": scan.sha256, "columns": columns, "rows": rows, "integrity_problems": problems}


def reference_edges(reference: dict) -> dict:
    return {
        name: (column["edges"], column["psi_edges"])
        for name, column in reference["columns"].items()
        if column["kind"] == "numeric"
    }


def build_reference(
    path: Path,
    fmt: str,
    specs: list[ColumnSpec],
    facts: dict,
    *,
    target_column: str | None = None,
    max_cell_chars: int | None = reading.CELL_CHARS,
) -> dict:
    """The training reference. With `target_column` (the label) it also holds each feature's
    correlation with the label, which labelled batches are compared against."""
    missing = [spec.name for spec in specs if spec.name not in facts["columns"]]
    if target_column is not None and target_column not in facts["columns"] and target_column not in missing:
        missing.append(target_column)
    if missing:
        raise AuditInputError(f"The training data lacks column(s) the feature schema names: {', '.join(missing)}.")
    # profile_source with no edges profiles a reference: two passes, string columns read as strings.
    return sources.profile_source(
        path, fmt, specs, target_column=target_column, max_cell_chars=max_cell_chars, rows=facts.get("rows")
    )


def profile_rows(
    path: Path,
    fmt: str,
    *,
    reference: dict,
    specs: list[ColumnSpec],
    facts: dict,
    row_start: int = 0,
    row_stop: int | None = None,
    progress: Callable[[int], None] | None = None,
    chunk_rows: int = 200_000,
    target_column: str | None = None,
    max_cell_chars: int | None = reading.CELL_CHARS,
) -> dict:
    """Profile a file, or one row range of it, on the reference's bins. Partitions merge exactly.
    `target_column`: the label; a file that has it gets label statistics ("target"), one that does
    not (an unlabelled batch) is profiled as before. Text cells longer than `max_cell_chars` are cut
    as they are read and counted in the profile's "cut_cells"."""
    present = [spec for spec in specs if spec.name in facts["columns"]]
    if target_column is not None and target_column not in facts["columns"]:
        target_column = None
    return sources.profile_source(
        path,
        fmt,
        present,
        edges=reference_edges(reference),
        progress=progress,
        chunk_rows=chunk_rows,
        row_start=row_start,
        row_stop=row_stop,
        target_column=target_column,
        max_cell_chars=max_cell_chars,
        rows=facts.get("rows"),
    )


def merge_partitions(path: Path, fmt: str, profiles: list[dict], specs: list[ColumnSpec], facts: dict) -> dict:
    """One profile from the partitions' profiles. Duplicate ids across partitions are only visible to a
    pass over the id column itself, so that column is re-read (cheap: one column)."""
    merged = profiles[0]
    for profile in profiles[1:]:
        merged = merge_profiles(merged, profile)
    for spec in specs:
        if spec.kind == "id" and spec.name in facts["columns"]:
            count, examples = sources.duplicate_ids(path, fmt, spec.name)
            merged["columns"][spec.name].update(duplicates=count, duplicate_examples=examples)
    return merged


def judge(
    profile: dict,
    *,
    reference: dict,
    specs: list[ColumnSpec],
    suite: Suite,
    facts: dict,
    history: list[tuple[int, int]] = (),
    roles: dict | None = None,
    serving: dict | None = None,
) -> tuple[list, str]:
    """Findings (most severe first) and verdict for a file's profile.

    `roles` = {"label": name or None, "prediction": name or None} says which columns are not plain
    features. The prediction column (in both profiles) is judged by prediction_drift instead of drift;
    with a label, each feature's correlation with it is compared with training (target_correlation;
    the label's own drift stays an ordinary drift finding).

    `serving` = {"features": [the model's features], "processing": {feature: {"rows", "dropped"}}}
    marks the file as a serving-log export: training–serving skew (skew_missing, skew_nulls,
    skew_drift) and what processing nulled (skew_processing) are judged; the volume check (meant for
    batches) is skipped, and so are the drift and missing-column findings skew already reports for
    the model's features — one finding per fact. A file without the label column is an unlabelled
    batch: the schema notes it (info) instead of failing the file."""
    roles = roles or {}
    ref_cols, cur_cols = reference.get("columns") or {}, profile.get("columns") or {}
    prediction, label = roles.get("prediction"), roles.get("label")
    features = list((serving or {}).get("features") or [])
    findings = checks.schema_findings([spec.to_dict() for spec in specs], facts["columns"])
    # Facts reported elsewhere are not failed twice: a serving log's missing feature is skew_missing;
    # a missing label is how incoming batches arrive (labels come later), not a broken file.
    reported_elsewhere = {name for name in features if name not in cur_cols} if serving is not None else set()
    if serving is not None:
        # The export holds the model's features and its score; ids, dates and labels never enter it.
        reported_elsewhere |= {spec.name for spec in specs if spec.name not in features and spec.name != prediction}
    unlabelled = label is not None and label not in facts["columns"]
    if unlabelled:
        reported_elsewhere.add(label)
    if prediction is not None and prediction not in facts["columns"] and serving is None:
        reported_elsewhere.add(prediction)  # batches carry inputs; scores come from serving logs
    findings = [f for f in findings if not (f.status == "fail" and f.details.get("missing") in reported_elsewhere)]
    if unlabelled and label in {spec.name for spec in specs}:
        findings.append(
            checks.Finding(
                "schema",
                label,
                "info",
                "pass",
                f"Column {label} (the label) is absent: the batch is unlabelled, as incoming "
                f"batches usually are, so label checks are skipped.",
                details={"unlabelled": label},
            )
        )
    findings += [
        checks.Finding(check="integrity", column=None, severity="error", status="fail", message=problem)
        for problem in facts["integrity_problems"]
    ]
    if serving is None:
        findings += checks.volume_findings(facts["rows"], facts["bytes"], list(history), suite)
    quality = checks.quality_findings(reference, profile, suite)
    if serving is not None:  # a feature's nulls in serving are skew_nulls, judged against training below
        quality = [f for f in quality if not (f.check == "nulls" and f.column in features)]
    findings += quality
    findings += checks.cut_cells_findings(profile, suite)
    skip_drift = set(features) if serving is not None else set()
    predicted = prediction is not None and prediction in ref_cols and prediction in cur_cols
    if predicted:
        skip_drift.add(prediction)
    findings += checks.drift_findings(reference, profile, suite, skip=skip_drift)
    if predicted:
        findings += checks.prediction_drift_findings(
            ref_cols[prediction], cur_cols[prediction], suite, column=prediction
        )
    if label is not None:
        # The prediction's link with the label is the model's accuracy, not a feature's: left to evaluation.
        findings += checks.target_correlation_findings(
            reference, profile, suite, label=label, skip=[prediction] if prediction else []
        )
    if serving is not None:
        findings += checks.skew_findings(reference, profile, features, suite=suite)
        findings += checks.skew_processing_findings(serving.get("processing") or {}, suite=suite)
    findings = checks.sort_findings(findings)
    return findings, checks.verdict(findings)


def audit_file(
    path: Path,
    fmt: str,
    *,
    reference: dict,
    specs: list[ColumnSpec],
    suite: Suite,
    facts: dict,
    history: list[tuple[int, int]] = (),
    progress: Callable[[int], None] | None = None,
    stage: Callable[[str], None] | None = None,
    chunk_rows: int = 200_000,
    target_column: str | None = None,
    roles: dict | None = None,
    serving: dict | None = None,
    max_cell_chars: int | None = reading.CELL_CHARS,
) -> tuple[list, str, dict]:
    """A whole audit in one process: findings (most severe first), verdict and the file's profile.
    The label statistics are gathered for `target_column`, or else for roles["label"]; `roles` and
    `serving` as in judge."""
    stage = stage or (lambda text: None)
    stage("Profiling")
    target_column = target_column or (roles or {}).get("label")
    # Over a whole file, profile_source counts duplicate ids exactly as it streams.
    profile = profile_rows(
        path,
        fmt,
        reference=reference,
        specs=specs,
        facts=facts,
        progress=progress,
        chunk_rows=chunk_rows,
        target_column=target_column,
        max_cell_chars=max_cell_chars,
    )
    stage("Comparing with the training reference")
    findings, verdict = judge(
        profile,
        reference=reference,
        specs=specs,
        suite=suite,
        facts=facts,
        history=history,
        roles=roles,
        serving=serving,
    )
    return findings, verdict, profile
