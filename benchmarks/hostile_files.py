"""The three hostile files of issue 14 through the real code paths, each in a fresh process.

    .venv/bin/python benchmarks/hostile_files.py [--work-dir var/bench/hostile] [--timeout 300]

Files (generated once into the work dir, ~57 MB):
  rows.parquet   a 20,000,000-row zstd Parquet file (~0.2 MB on disk; columns x, upgraded)
  header.csv     a CSV whose header is 1,000,000 columns all named `a` (~2 MB)
  value.jsonl    a JSON-lines file whose second record holds one 50 MiB value (columns id, comment, upgraded)

Paths, each run in a child process (`--child`) with Keel's settings (mlops.settings):
  audit    what the audit job does with an incoming batch (audits.services.jobs): engine.check_file with
           KEEL_MAX_BATCH_BYTES and KEEL_MAX_COLUMNS, then engine.audit_file with KEEL_MAX_CELL_CHARS against
           a reference built from a small, ordinary file of the same columns; reports the verdict, the
           cut_cells finding and the size of the findings and profile as stored.
  holdout  the gate's hold-out reading (registry.services.gate.load_holdout, which checks rows and
           uncompressed size before reading), then prepare_labels and prepare_features for a version
           reading every column: the first refusal is the outcome.

For each file and path it prints the outcome (refused/accepted and the message, clipped), the wall
time from spawn to exit and the child's peak RSS (ru_maxrss from os.wait4). Nothing fails on a slow
run; a child past --timeout is killed and reported.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PARQUET_ROWS = 20_000_000
HEADER_COLUMNS = 1_000_000
VALUE_BYTES = 50 * 1024 * 1024
SHOWN = 160  # characters of an outcome message printed


# --------------------------------------------------------------------------------------------- files


def generate(work: Path) -> dict[str, tuple[Path, str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    work.mkdir(parents=True, exist_ok=True)
    files = {
        "20M-row Parquet": (work / "rows.parquet", "parquet"),
        "1M duplicate columns": (work / "header.csv", "csv"),
        "50 MB value": (work / "value.jsonl", "jsonl"),
    }
    rows = files["20M-row Parquet"][0]
    if not rows.exists():
        schema = pa.schema([("x", pa.int64()), ("upgraded", pa.int64())])
        batch = pa.record_batch([pa.array([0] * 1_000_000), pa.array([0, 1] * 500_000)], schema=schema)
        with pq.ParquetWriter(rows, schema, compression="zstd", compression_level=19) as writer:
            for _ in range(PARQUET_ROWS // batch.num_rows):
                writer.write_batch(batch, row_group_size=PARQUET_ROWS)
    header = files["1M duplicate columns"][0]
    if not header.exists():
        header.write_bytes(b",".join([b"a"] * HEADER_COLUMNS) + b"\n" + b",".join([b"0"] * HEADER_COLUMNS) + b"\n")
    value = files["50 MB value"][0]
    if not value.exists():
        with open(value, "w") as f:
            f.write(json.dumps({"id": 0, "comment": "a short note", "upgraded": 0}) + "\n")
            f.write(json.dumps({"id": 1, "comment": "x" * VALUE_BYTES, "upgraded": 1}) + "\n")
            for i in range(2, 200):
                f.write(json.dumps({"id": i, "comment": f"note {i}", "upgraded": i % 2}) + "\n")
    return files


def reference_file(work: Path, fmt: str) -> Path:
    """A small ordinary training file with the hostile file's columns (for the audit's reference)."""
    import pandas as pd

    if fmt == "parquet":
        path = work / "train.parquet"
        pd.DataFrame({"x": range(1000), "upgraded": [0, 1] * 500}).to_parquet(path)
    elif fmt == "jsonl":
        path = work / "train.jsonl"
        path.write_text(
            "".join(json.dumps({"id": i, "comment": f"note {i}", "upgraded": i % 2}) + "\n" for i in range(500))
        )
    else:
        path = work / "train.csv"
        path.write_text("a\n" + "\n".join("0" for _ in range(100)) + "\n")
    return path


# --------------------------------------------------------------------------------------------- child


def specs_for(fmt: str):
    from audits.engine.columns import ColumnSpec

    if fmt == "parquet":
        return [ColumnSpec("x", "numeric", "int"), ColumnSpec("upgraded", "numeric", "int")]
    if fmt == "jsonl":
        return [
            ColumnSpec("id", "id", "int"),
            ColumnSpec("comment", "text", "string"),
            ColumnSpec("upgraded", "numeric", "int"),
        ]
    return [ColumnSpec("a", "numeric", "int")]


def child_audit(path: Path, fmt: str, work: Path) -> dict:
    from django.conf import settings

    from audits.engine import audit as engine
    from audits.engine.suite import suggest_suite
    from mlops.datafiles.reading import DataFileError

    specs = specs_for(fmt)
    train = reference_file(work, fmt)
    caps = dict(max_bytes=settings.KEEL_MAX_BATCH_BYTES, max_columns=settings.KEEL_MAX_COLUMNS)
    reference = engine.build_reference(train, fmt, specs, engine.check_file(train, fmt, **caps))
    try:
        facts = engine.check_file(path, fmt, **caps)
        findings, verdict, profile = engine.audit_file(
            path,
            fmt,
            reference=reference,
            specs=specs,
            suite=suggest_suite(reference, specs),
            facts=facts,
            chunk_rows=settings.KEEL_AUDIT_CHUNK_ROWS,
            max_cell_chars=settings.KEEL_MAX_CELL_CHARS,
        )
    except (engine.AuditInputError, DataFileError) as exc:
        return {"outcome": "refused", "message": str(exc)}
    stored = len(json.dumps([f.__dict__ for f in findings], default=str)) + len(json.dumps(profile, default=str))
    cut = [f.message for f in findings if f.check == "cut_cells"]
    message = cut[0] if cut else f"{facts['rows']:,} rows audited"
    return {"outcome": f"accepted ({verdict})", "message": f"{message} [findings+profile {stored:,} bytes]"}


def child_holdout(path: Path, fmt: str, work: Path) -> dict:
    from mlops.hashing import sha256_file
    from registry.models import HoldoutDataset, ModelVersion
    from registry.services.gate import GateInputError, load_holdout, prepare_features, prepare_labels

    label = "a" if fmt == "csv" else "upgraded"
    holdout = HoldoutDataset(
        name="hostile", format=fmt, label_column=label, storage_path=path.name, sha256=sha256_file(path)
    )
    try:
        frame = load_holdout(holdout)
        prepare_labels(frame, holdout, "binary_classification")
        schema = [{"name": c, "type": "string", "categorical": True} for c in frame.columns if c != label]
        prepare_features(frame, ModelVersion(version=1, feature_schema=schema))
    except GateInputError as exc:
        return {"outcome": "refused", "message": str(exc)}
    return {"outcome": "accepted", "message": f"{len(frame):,} rows read"}


def run_child(path: Path, fmt: str, mode: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlops.settings")
    os.environ["KEEL_DATA_ROOT"] = str(path.parent)
    import django

    django.setup()
    result = (child_audit if mode == "audit" else child_holdout)(path, fmt, path.parent)
    print(json.dumps(result))


# -------------------------------------------------------------------------------------------- parent


def measure(path: Path, fmt: str, mode: str, timeout: float) -> dict:
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, __file__, "--child", str(path), fmt, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            child.kill()
            pid, status, usage = os.wait4(child.pid, 0)
            break
        time.sleep(0.05)
    wall = time.perf_counter() - start
    out, err = child.stdout.read().decode(), child.stderr.read().decode()
    child.returncode = os.waitstatus_to_exitcode(status)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if lines:
        result = json.loads(lines[-1])
    elif wall >= timeout:
        result = {"outcome": "timed out", "message": f"killed after {timeout:.0f} s"}
    else:
        result = {"outcome": f"crashed ({child.returncode})", "message": (err.strip().splitlines() or [""])[-1]}
    return {**result, "wall_s": wall, "peak_rss_mib": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", type=Path, default=ROOT / "var" / "bench" / "hostile")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--child", nargs=3, metavar=("PATH", "FORMAT", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, fmt, mode = args.child
        run_child(Path(path), fmt, mode)
        return
    from mlops.clipping import clip

    files = generate(args.work_dir)
    print(f"{'file':22} {'path':8} {'wall s':>7} {'peak MiB':>9}  outcome: message")
    for name, (path, fmt) in files.items():
        for mode in ("audit", "holdout"):
            r = measure(path, fmt, mode, args.timeout)
            print(
                f"{name:22} {mode:8} {r['wall_s']:7.1f} {r['peak_rss_mib']:9.0f}  "
                f"{r['outcome']}: {clip(r['message'], SHOWN)}",
                flush=True,
            )


if __name__ == "__main__":
    main()
