"""A whole audit of one data file, without Django: file checks, profile on the reference's bins,
quality and drift findings, verdict. The audits app runs it as a job; the benchmark runs it bare."""

from collections.abc import Callable
from pathlib import Path

from . import checks, sources
from .columns import ColumnSpec
from .profile import merge_profiles
from .suite import Suite


class AuditInputError(ValueError):
    """The data cannot be audited; the message says why, for the person who sent it."""


def check_file(path: Path, fmt: str, *, max_bytes: int, received_sha256: str | None = None,
               declared_sha256: str | None = None, hmac_key: bytes | None = None,
               signature: str | None = None) -> dict:
    """What can be known of a file before reading its rows. Refuses what cannot be audited (empty,
    too large, not UTF-8, no rows); records integrity problems (tampering) as facts to report."""
    size = path.stat().st_size
    if size == 0:
        raise AuditInputError("The file is empty.")
    if size > max_bytes:
        raise AuditInputError(f"The file is {size} bytes; the limit is {max_bytes} bytes.")
    if fmt in ("csv", "jsonl"):
        offset = sources.first_bad_utf8_offset(path)
        if offset is not None:
            raise AuditInputError(f"The file is not valid UTF-8: the first bad byte is at offset {offset}.")
    sha = sources.sha256_of(path)
    problems = sources.verify_signature(path, sha256=declared_sha256 or None,
                                        hmac_key=hmac_key if signature else None, hmac_hex=signature or None)
    if received_sha256 and sha != received_sha256:
        problems.append("The stored file no longer matches the bytes Keel received.")
    columns = sources.read_columns(path, fmt)
    rows = sources.count_rows(path, fmt)
    if rows == 0:
        raise AuditInputError("The file has a header but no rows.")
    return {"bytes": size, "sha256": sha, "columns": columns, "rows": rows, "integrity_problems": problems}


def reference_edges(reference: dict) -> dict:
    return {name: (column["edges"], column["psi_edges"]) for name, column in reference["columns"].items()
            if column["kind"] == "numeric"}


def build_reference(path: Path, fmt: str, specs: list[ColumnSpec], facts: dict) -> dict:
    missing = [spec.name for spec in specs if spec.name not in facts["columns"]]
    if missing:
        raise AuditInputError(f"The training data lacks column(s) the feature schema names: {', '.join(missing)}.")
    # profile_source with no edges profiles a reference: two passes, string columns read as strings.
    return sources.profile_source(path, fmt, specs)


def profile_rows(path: Path, fmt: str, *, reference: dict, specs: list[ColumnSpec], facts: dict,
                 row_start: int = 0, row_stop: int | None = None, progress: Callable[[int], None] | None = None,
                 chunk_rows: int = 200_000) -> dict:
    """Profile a file, or one row range of it, on the reference's bins. Partitions merge exactly."""
    present = [spec for spec in specs if spec.name in facts["columns"]]
    return sources.profile_source(path, fmt, present, edges=reference_edges(reference), progress=progress,
                                  chunk_rows=chunk_rows, row_start=row_start, row_stop=row_stop)


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


def judge(profile: dict, *, reference: dict, specs: list[ColumnSpec], suite: Suite, facts: dict,
          history: list[tuple[int, int]] = ()) -> tuple[list, str]:
    """Findings (most severe first) and verdict for a file's profile."""
    findings = checks.schema_findings([spec.to_dict() for spec in specs], facts["columns"])
    findings += [checks.Finding(check="integrity", column=None, severity="error", status="fail", message=problem)
                 for problem in facts["integrity_problems"]]
    findings += checks.volume_findings(facts["rows"], facts["bytes"], list(history), suite)
    findings += checks.quality_findings(reference, profile, suite)
    findings += checks.drift_findings(reference, profile, suite)
    findings = checks.sort_findings(findings)
    return findings, checks.verdict(findings)


def audit_file(path: Path, fmt: str, *, reference: dict, specs: list[ColumnSpec], suite: Suite, facts: dict,
               history: list[tuple[int, int]] = (), progress: Callable[[int], None] | None = None,
               stage: Callable[[str], None] | None = None, chunk_rows: int = 200_000) -> tuple[list, str, dict]:
    """A whole audit in one process: findings (most severe first), verdict and the file's profile."""
    stage = stage or (lambda text: None)
    stage("Profiling")
    # Over a whole file, profile_source counts duplicate ids exactly as it streams.
    profile = profile_rows(path, fmt, reference=reference, specs=specs, facts=facts, progress=progress,
                           chunk_rows=chunk_rows)
    stage("Comparing with the training reference")
    findings, verdict = judge(profile, reference=reference, specs=specs, suite=suite, facts=facts, history=history)
    return findings, verdict, profile
