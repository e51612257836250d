"""Smoke test of benchmarks/serving_lists.py, so the harness cannot silently rot: a small run (a few
hundred entries, a few clients, short scenarios) against the real production server must print its
table with every request answered as expected. No timing is asserted."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_serving_lists_benchmark_runs_end_to_end(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "serving_lists.py"),
            "--entries",
            "300",
            "--clients",
            "4",
            "--client-procs",
            "1",
            "--duration",
            "0.5",
            "--workers",
            "1",
            "--threads",
            "2",
            "--scenarios",
            "304,full,since",
            "--work-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| 304 | Keel API |" in done.stdout and "| full | static file |" in done.stdout
    results = json.loads((tmp_path / "serving-lists-results.json").read_text())
    assert results["meta"]["active_entries"] == 300
    assert results["meta"]["served_blacklist"] + results["meta"]["served_boosts"] == 300
    for row in results["rows"]:
        assert row["requests"] > 0 and row["errors"] == 0, row
