"""Keel's side of the audit benchmark: one whole audit of CURRENT against REFERENCE, no Django.

    .venv/bin/python benchmarks/keel_audit.py REFERENCE.parquet CURRENT.parquet [--json OUT] [--cprofile OUT]

What it does is what the audits app does for a model version and then a batch (audits/services.py):
check_file on the reference, build_reference on it (specs: 10 numeric, 8 categorical, a timestamp and an
id), suggest_suite from that profile, then check_file on the current file and audit_file (file checks,
quality, drift). It prints the verdict, the finding counts and the flagged columns, and on its last line
one JSON object (stage timings included) that benchmarks/audit_throughput.py reads.

`run_audit()` is importable (the smoke test in tests/benchmarks uses it on a small pair).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (str(ROOT), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

import bench_data as datasets  # noqa: E402  (benchmarks/bench_data.py: the column names and the injected drift)

MAX_BYTES = 50 * 1024**3  # the benchmark files are far below; the app's limit is a setting


def benchmark_specs():
    """The feature schema a user would declare for the benchmark data."""
    from audits.engine.columns import ColumnSpec

    bounds = {"num_uniform": (0.0, 100.0), "num_beta": (0.0, 1.0), "num_age": (18.0, 90.0)}
    specs = [
        ColumnSpec(datasets.ID_COLUMN, "id", "int"),
        ColumnSpec(datasets.TIMESTAMP_COLUMN, "timestamp", "datetime"),
    ]
    for name in datasets.NUMERIC:
        lo, hi = bounds.get(name, (None, None))
        specs.append(ColumnSpec(name, "numeric", "int" if name in datasets.INT_NUMERIC else "float", lo, hi))
    specs += [ColumnSpec(name, "categorical", "string") for name in datasets.CATEGORICAL]
    return specs


class RssSampler:
    """Diagnostics (--memory): the process's resident set sampled every few ms from /proc/self/statm,
    so each stage's own peak can be told apart (ru_maxrss only ever grows)."""

    def __init__(self, interval: float = 0.005):
        import os
        import threading

        self.page = os.sysconf("SC_PAGE_SIZE")
        self.interval = interval
        self.label = "start"
        self.peaks: dict[str, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def rss_mib(self) -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self.page / 2**20

    def _run(self):
        while not self.stop.is_set():
            rss = self.rss_mib()
            if rss > self.peaks.get(self.label, 0.0):
                self.peaks[self.label] = rss
            self.stop.wait(self.interval)

    def enter(self, label: str):
        self.label = label
        self.peaks[label] = max(self.peaks.get(label, 0.0), self.rss_mib())

    def close(self) -> dict[str, float]:
        self.stop.set()
        self.thread.join()
        return {label: round(mib, 1) for label, mib in self.peaks.items()}


def run_audit(reference_path: Path, current_path: Path, *, fmt: str = "parquet", memory: bool = False) -> dict:
    """The whole audit; returns a JSON-safe summary (verdict, counts, per-column statuses, timings; with
    memory=True also each stage's peak RSS in MiB)."""
    timings: dict[str, float] = {}
    sampler = RssSampler() if memory else None

    def timed(label, fn, *args, **kwargs):
        if sampler:
            sampler.enter(label)
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        timings[label] = round(time.perf_counter() - start, 3)
        return result

    start = time.perf_counter()
    from audits.engine import audit
    from audits.engine.suite import suggest_suite

    timings["import"] = round(time.perf_counter() - start, 3)

    specs = benchmark_specs()
    ref_facts = timed("check_file(reference)", audit.check_file, Path(reference_path), fmt, max_bytes=MAX_BYTES)
    reference = timed("build_reference", audit.build_reference, Path(reference_path), fmt, specs, ref_facts)
    suite = timed("suggest_suite", suggest_suite, reference, specs)
    cur_facts = timed("check_file(current)", audit.check_file, Path(current_path), fmt, max_bytes=MAX_BYTES)
    stages: list[tuple[str, float]] = []

    def stage(text):
        stages.append((text, time.perf_counter()))
        if sampler:
            sampler.enter(f"  audit_file: {text}")

    findings, verdict, profile = timed(
        "audit_file",
        audit.audit_file,
        Path(current_path),
        fmt,
        reference=reference,
        specs=specs,
        suite=suite,
        facts=cur_facts,
        stage=stage,
    )
    end = time.perf_counter()
    for (text, at), (_, nxt) in zip(stages, stages[1:] + [("", end)]):
        timings[f"  audit_file: {text}"] = round(nxt - at, 3)

    statuses = Counter(f.status for f in findings)
    severities = Counter(f"{f.severity}/{f.status}" for f in findings)
    by_column: dict[str, dict[str, str]] = {}
    for f in findings:
        if f.status != "pass":
            by_column.setdefault(f.column or "(file)", {})[f.check] = f.status
    summary = {
        "tool": "keel",
        "reference_rows": ref_facts["rows"],
        "current_rows": cur_facts["rows"],
        "verdict": verdict,
        "findings": len(findings),
        "statuses": dict(statuses),
        "severities": dict(severities),
        "flagged": by_column,
        "timings_s": timings,
        "profile_rows": profile["rows"],
    }
    if sampler:
        summary["stage_peak_rss_mib"] = sampler.close()
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path)
    parser.add_argument("current", type=Path)
    parser.add_argument("--json", type=Path, help="also write the summary to this file")
    parser.add_argument("--cprofile", type=Path, help="run under cProfile and dump the stats to this file")
    parser.add_argument("--memory", action="store_true", help="sample RSS and report each stage's peak")
    args = parser.parse_args(argv)

    if args.cprofile:
        import cProfile

        profiler = cProfile.Profile()
        summary = profiler.runcall(run_audit, args.reference, args.current, memory=args.memory)
        profiler.dump_stats(str(args.cprofile))
    else:
        summary = run_audit(args.reference, args.current, memory=args.memory)

    print(f"Keel audit: {summary['current_rows']:,} rows against a {summary['reference_rows']:,}-row reference")
    print(
        f"verdict: {summary['verdict']}; {summary['findings']} findings: "
        + ", ".join(f"{k} {v}" for k, v in sorted(summary["statuses"].items()))
    )
    for column, checks in sorted(summary["flagged"].items()):
        print(f"  {column}: " + ", ".join(f"{check}={status}" for check, status in sorted(checks.items())))
    peaks = summary.get("stage_peak_rss_mib", {})
    for label, seconds in summary["timings_s"].items():
        peak = f"   peak RSS {peaks[label]:7.0f} MiB" if label in peaks else ""
        print(f"  {label:<48} {seconds:8.2f} s{peak}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
