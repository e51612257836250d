"""Smoke test of benchmarks/tracking_vs_mlflow.py, the parts that need no server: the message when
MLflow's server is not installed, the table and its ratios, and finding the workers `mlflow server`
spawns so that they are stopped with it. The servers themselves are the benchmark's to start."""

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import tracking_vs_mlflow  # noqa: E402


def test_without_mlflows_virtualenv_it_says_how_to_make_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("KEEL_MLFLOW_SERVER", str(tmp_path / "no-such" / "mlflow"))
    assert tracking_vs_mlflow.main(["--runs", "1"]) == 2
    out = capsys.readouterr().out
    assert "./run test" in out and "pip install -r benchmarks/requirements-mlflow.txt" in out


def test_the_table_gives_each_call_both_servers_and_the_ratio(capsys):
    def timed(seconds: float):
        return SimpleNamespace(times={call: [seconds] * 4 for call in tracking_vs_mlflow.CALLS})

    rows = tracking_vs_mlflow.figures(timed(0.010), timed(0.020), runs=4)
    assert [r["call"] for r in rows[:-1]] == list(tracking_vs_mlflow.CALLS)
    assert all(r["ratio_p50"] == r["ratio_p99"] == 2.0 for r in rows[:-1])
    assert rows[-1]["ratio"] == 2.0 and rows[-1]["keel_runs_per_s"] == 4 / (8 * 4 * 0.010)
    meta = dict.fromkeys(
        ("machine", "gunicorn", "worker_class", "workers", "threads", "django", "postgres", "mlflow_server"), "x"
    )
    meta.update(mlflow_workers=2, mlflow_backend="sqlite", mlflow_client="3.17.2", python="3.11", runs=4)
    tracking_vs_mlflow.print_table(rows, {**meta, "load_before": "1.00", "load_after": "1.00"})
    out = capsys.readouterr().out
    assert "| log_batch 500 metrics | 10.00 | 10.00 | 20.00 | 20.00 | 2.00 | 2.00 | PASS |" in out
    assert "load average before 1.00" in out


def test_the_processes_a_server_spawned_are_found_to_be_stopped():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in tracking_vs_mlflow.descendants(tracking_vs_mlflow.os.getpid())
    finally:
        child.kill()
        child.wait()
