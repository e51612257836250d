"""Evidently's side of the audit benchmark: a DataDriftPreset report of CURRENT against REFERENCE.

    benchmarks/.venv-peers/bin/python benchmarks/evidently_drift.py REFERENCE.parquet CURRENT.parquet [--json OUT]

Runs in its own virtualenv (benchmarks/.venv-peers; see requirements-peers.txt): Evidently 0.7.23 with
pandas < 3. It reads both Parquet files whole with pandas (Evidently works on in-memory DataFrames;
strings as pandas' default object dtype, or as category dtype with --category-dtype),
declares the columns with a DataDefinition (the same kinds Keel's specs give: 10 numerical, 8
categorical, the timestamp and the id), runs Report([DataDriftPreset()]) with Evidently's default
per-column tests, and writes the snapshot's JSON. It prints the drifted columns and, on its last line,
one JSON object (stage timings included) that benchmarks/audit_throughput.py reads.

Standalone on purpose: it imports nothing from Keel (Keel's pandas 3 is not this interpreter's).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's usage telemetry: off (there is no network here anyway)

ID_COLUMN = "record_id"
TIMESTAMP_COLUMN = "event_time"


def _drift_results(snapshot_dict: dict) -> tuple[dict | None, dict[str, float], list[str]]:
    """(DriftedColumnsCount value, {column: drift score}, drifted columns) from the snapshot's dict.

    A column drifted when its score passes the metric's threshold: at or above it for the distance
    methods Evidently picks by default (Wasserstein, Jensen-Shannon, PSI), below it for p-values."""
    count = None
    scores: dict[str, float] = {}
    drifted: list[str] = []
    for metric in snapshot_dict.get("metrics", []):
        name = str(metric.get("metric_name") or metric.get("metric_id") or "")
        config = metric.get("config") or {}
        if name.startswith("DriftedColumnsCount"):
            count = metric.get("value")
        elif name.startswith("ValueDrift"):
            column = config.get("column") or name
            value, threshold = metric.get("value"), config.get("threshold")
            scores[column] = value
            if isinstance(value, (int, float)) and isinstance(threshold, (int, float)):
                p_value = "p_value" in str(config.get("method", "")).lower().replace("-", "_").replace(" ", "_")
                if (value < threshold) if p_value else (value >= threshold):
                    drifted.append(column)
    return count, scores, drifted


def _read(path: Path, category_dtype: bool):
    """The whole file as a pandas DataFrame: pandas' defaults (strings as object), or, with category_dtype,
    the string columns read straight into pandas' category dtype (pyarrow dictionary arrays), which is
    Evidently's faster and smaller case."""
    import pandas as pd
    import pyarrow.parquet as pq

    if not category_dtype:
        return pd.read_parquet(path)
    names = pq.ParquetFile(path).schema_arrow.names
    return pq.read_table(path, read_dictionary=[c for c in names if c.startswith("cat_")]).to_pandas()


def run_report(reference_path: Path, current_path: Path, out: Path | None, *, category_dtype: bool = False) -> dict:
    timings: dict[str, float] = {}
    t = time.perf_counter()
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently import __version__ as evidently_version
    from evidently.presets import DataDriftPreset

    timings["import"] = round(time.perf_counter() - t, 3)

    t = time.perf_counter()
    reference = _read(reference_path, category_dtype)
    current = _read(current_path, category_dtype)
    timings["read parquet (pandas" + (", category dtype)" if category_dtype else ")")] = round(
        time.perf_counter() - t, 3
    )

    numerical = [c for c in reference.columns if c.startswith("num_")]
    categorical = [c for c in reference.columns if c.startswith("cat_")]
    definition = DataDefinition(
        id_column=ID_COLUMN, timestamp=TIMESTAMP_COLUMN, numerical_columns=numerical, categorical_columns=categorical
    )
    t = time.perf_counter()
    ref_ds = Dataset.from_pandas(reference, data_definition=definition)
    cur_ds = Dataset.from_pandas(current, data_definition=definition)
    timings["Dataset.from_pandas"] = round(time.perf_counter() - t, 3)

    t = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(cur_ds, ref_ds)
    timings["Report.run (DataDriftPreset)"] = round(time.perf_counter() - t, 3)

    t = time.perf_counter()
    result = snapshot.dict()
    text = json.dumps(result, default=str)
    target = out or Path(tempfile.gettempdir()) / "evidently_drift_snapshot.json"
    target.write_text(text)
    timings["snapshot to JSON"] = round(time.perf_counter() - t, 3)

    count, scores, drifted = _drift_results(result)
    return {
        "tool": "evidently",
        "evidently": evidently_version,
        "pandas": pd.__version__,
        "categorical_dtype": str(reference[categorical[0]].dtype) if categorical else None,
        "reference_rows": len(reference),
        "current_rows": len(current),
        "drifted_columns": count,
        "drifted": drifted,
        "column_scores": scores,
        "snapshot_json": str(target),
        "snapshot_bytes": len(text),
        "timings_s": timings,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path)
    parser.add_argument("current", type=Path)
    parser.add_argument("--json", type=Path, help="where to write the snapshot's JSON (default: the temp dir)")
    parser.add_argument(
        "--category-dtype",
        action="store_true",
        help="read the cat_* columns as pandas category (default: pandas' object strings)",
    )
    args = parser.parse_args(argv)
    summary = run_report(args.reference, args.current, args.json, category_dtype=args.category_dtype)
    print(
        f"Evidently {summary['evidently']} DataDriftPreset: {summary['current_rows']:,} rows against "
        f"{summary['reference_rows']:,}; categorical columns as {summary['categorical_dtype']}"
    )
    print(f"drifted columns: {summary['drifted_columns']}: {', '.join(summary['drifted'])}")
    for column, score in sorted(summary["column_scores"].items()):
        print(f"  {column}: {score}")
    for label, seconds in summary["timings_s"].items():
        print(f"  {label:<48} {seconds:8.2f} s")
    print(json.dumps(summary, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
