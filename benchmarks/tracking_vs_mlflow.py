"""MLflow tracking through the real `mlflow` client: Keel's MLflow-compatible API vs MLflow's own server.

    .venv/bin/python benchmarks/tracking_vs_mlflow.py [--runs 50] [--warmup-runs 3] [--mlflow-backend sqlite|postgres]
                                                       [--workers N] [--database-url postgres://…] [--json FILE]

1. Servers, both on loopback, in one run:
   - Keel: a throwaway PostgreSQL (as relabel_queue.py starts it, bench_support.py; or a database of
     its own on --database-url), migrated, a pipeline user made with `manage.py create_pipeline_user`
     (its token is the client's MLFLOW_TRACKING_TOKEN), then `gunicorn --config gunicorn.conf.py`
     (gthread, keep-alive, --workers, default gunicorn.conf.py's one per core) under
     DJANGO_SETTINGS_MODULE=mlops.settings_production (DEBUG off, a random SECRET_KEY). The one change:
     SECURE_SSL_REDIRECT=0, since the client speaks plain HTTP to loopback where production has its
     TLS proxy in front.
   - MLflow: `mlflow server` 3.17.2 from benchmarks/.venv-mlflow (tests/integration/mlflow_server.py),
     the same number of workers, SQLite backend store by default; `--mlflow-backend postgres` gives it
     a database of its own on the same PostgreSQL (needs psycopg2 in that virtualenv:
     benchmarks/requirements-mlflow.txt has it). No auth.
2. Workload, the same for both, through `mlflow.tracking.MlflowClient` (the client of Keel's .venv,
   mlflow-skinny 3.17.2): per run create_run, log_batch of 10 params, log_batch of 10 metrics,
   log_batch of 500 metrics (10 keys x 50 steps; MLflow allows 1000 a batch), set_terminated, then
   get_run, search_runs (the run's experiment, a filter on a param and a metric) and
   get_metric_history of one key (50 points). Each call is timed with time.perf_counter around the
   client call (request, JSON, the client's own work). Both servers first get --warmup-runs untimed
   runs (in another experiment); then the runs alternate between the servers, the order flipped every
   run (Keel-MLflow, MLflow-Keel, ...), so load from elsewhere on the machine hits both alike.
3. Prints, per call: p50 and p99 ms for each server and the ratios MLflow / Keel (> 1: Keel is
   faster), and runs/s (runs over the summed time of all their calls); the machine, versions and
   load average before and after. --json FILE writes the figures.

Everything it starts (PostgreSQL, gunicorn, mlflow server, their files) is stopped and removed at the
end, also on Ctrl-C. A benchmark, not a test: nothing fails on a slow run
(tests/benchmarks/test_tracking_benchmark_smoke.py checks the parts that cannot need a server).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import runpy
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

import bench_support  # noqa: E402
from bench_support import log  # noqa: E402

from tests.integration import mlflow_server  # noqa: E402

PYTHON = sys.executable
PARAMS, SMALL_METRICS, BIG_KEYS, BIG_STEPS = 10, 10, 10, 50  # 10 x 50 = 500 metrics in the big batch
CALLS = (
    "create_run",
    "log_batch 10 params",
    "log_batch 10 metrics",
    "log_batch 500 metrics",
    "set_terminated",
    "get_run",
    "search_runs",
    "get_metric_history",
)
SEARCH_FILTER = "params.lr = '0.01' and metrics.accuracy > 0.5"


# ----------------------------------------------------------------------------- the workload


def params_of(index: int) -> list:
    from mlflow.entities import Param

    lr = "0.01" if index % 2 == 0 else "0.1"  # half the runs match the search's param
    return [Param("lr", lr)] + [Param(f"param_{i}", f"value-{index}-{i}") for i in range(1, PARAMS)]


def small_metrics(index: int, now_ms: int) -> list:
    from mlflow.entities import Metric

    accuracy = 0.4 + (index % 5) * 0.1  # three of five runs above 0.5
    return [Metric("accuracy", accuracy, now_ms, 0)] + [
        Metric(f"summary_{i}", index + i / 10, now_ms, 0) for i in range(1, SMALL_METRICS)
    ]


def big_metrics(now_ms: int) -> list:
    from mlflow.entities import Metric

    return [
        Metric(f"curve_{k}", 1.0 / (step + k + 1), now_ms + step, step)
        for k in range(BIG_KEYS)
        for step in range(BIG_STEPS)
    ]


class Target:
    """One server as the client sees it: its tracking URI, the token it takes, an experiment."""

    def __init__(self, name: str, url: str, token: str | None):
        from mlflow.tracking import MlflowClient

        self.name, self.url, self.token = name, url, token
        self.client = MlflowClient(tracking_uri=url)
        self.times: dict[str, list[float]] = {call: [] for call in CALLS}
        self.experiment_id = ""

    def use(self) -> None:
        # The client reads MLFLOW_TRACKING_TOKEN on every request: Keel's token for Keel, none for MLflow.
        if self.token:
            os.environ["MLFLOW_TRACKING_TOKEN"] = self.token
        else:
            os.environ.pop("MLFLOW_TRACKING_TOKEN", None)

    def experiment(self, name: str) -> str:
        self.use()
        return self.client.create_experiment(name)

    def one_run(self, experiment_id: str, index: int, timed: bool) -> None:
        """One run's calls; `timed`: each client call's time is kept under its kind."""
        self.use()
        client, times = self.client, self.times
        now_ms = int(time.time() * 1000)

        def call(kind, fn, *args, **kwargs):
            started = time.perf_counter()
            result = fn(*args, **kwargs)
            if timed:
                times[kind].append(time.perf_counter() - started)
            return result

        run = call("create_run", client.create_run, experiment_id, run_name=f"bench-{index}")
        run_id = run.info.run_id
        call("log_batch 10 params", client.log_batch, run_id, params=params_of(index))
        call("log_batch 10 metrics", client.log_batch, run_id, metrics=small_metrics(index, now_ms))
        call("log_batch 500 metrics", client.log_batch, run_id, metrics=big_metrics(now_ms))
        call("set_terminated", client.set_terminated, run_id)
        got = call("get_run", client.get_run, run_id)
        found = call("search_runs", client.search_runs, [experiment_id], SEARCH_FILTER, max_results=100)
        history = call("get_metric_history", client.get_metric_history, run_id, "curve_0")
        # The answers must be what was logged, or the times mean nothing.
        if len(got.data.params) != PARAMS or len(got.data.metrics) != SMALL_METRICS + BIG_KEYS:
            counts = f"{len(got.data.params)} params, {len(got.data.metrics)} metrics"
            raise SystemExit(f"{self.name}: get_run answered {counts}")
        if got.info.status != "FINISHED" or len(history) != BIG_STEPS:
            raise SystemExit(f"{self.name}: run {got.info.status}, {len(history)} history points")
        if index % 2 == 0 and index % 5 >= 2 and run_id not in {r.info.run_id for r in found}:
            raise SystemExit(f"{self.name}: search_runs did not find run {index}")


def percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values) * 1000, q))


def figures(keel: Target, peer: Target, runs: int) -> list[dict]:
    rows = []
    for call in CALLS:
        row = {"call": call}
        for who, target in (("keel", keel), ("mlflow", peer)):
            row[f"{who}_p50_ms"] = percentile(target.times[call], 50)
            row[f"{who}_p99_ms"] = percentile(target.times[call], 99)
        row["ratio_p50"] = row["mlflow_p50_ms"] / row["keel_p50_ms"]
        row["ratio_p99"] = row["mlflow_p99_ms"] / row["keel_p99_ms"]
        rows.append(row)
    total = {who: sum(sum(t.times[c]) for c in CALLS) for who, t in (("keel", keel), ("mlflow", peer))}
    rows.append(
        {
            "call": "runs/s (all 8 calls)",
            "keel_runs_per_s": runs / total["keel"],
            "mlflow_runs_per_s": runs / total["mlflow"],
            "ratio": total["mlflow"] / total["keel"],
        }
    )
    return rows


def print_table(rows: list[dict], meta: dict) -> None:
    log()
    log(
        f"{meta['runs']} runs per server, alternating; {meta['machine']}; load average before "
        f"{meta['load_before']}, after {meta['load_after']}"
    )
    log(
        f"Keel: gunicorn {meta['gunicorn']} {meta['worker_class']} {meta['workers']}x{meta['threads']}, "
        f"Django {meta['django']}, "
        f"{meta['postgres']}; MLflow server {meta['mlflow_server']} ({meta['mlflow_workers']} workers, "
        f"{meta['mlflow_backend']} backend); client mlflow-skinny {meta['mlflow_client']}, Python {meta['python']}"
    )
    log("| call | Keel p50 ms | Keel p99 ms | MLflow p50 ms | MLflow p99 ms | ratio p50 | ratio p99 | Keel ≥ MLflow |")
    log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for row in rows:
        if "ratio_p50" in row:
            verdict = "PASS" if row["ratio_p50"] >= 1 and row["ratio_p99"] >= 1 else "MISS"
            log(
                f"| {row['call']} | {row['keel_p50_ms']:.2f} | {row['keel_p99_ms']:.2f} | {row['mlflow_p50_ms']:.2f} "
                f"| {row['mlflow_p99_ms']:.2f} | {row['ratio_p50']:.2f} | {row['ratio_p99']:.2f} | {verdict} |"
            )
        else:
            verdict = "PASS" if row["ratio"] >= 1 else "MISS"
            log(
                f"| {row['call']} | {row['keel_runs_per_s']:.1f} runs/s | | {row['mlflow_runs_per_s']:.1f} runs/s | "
                f"| {row['ratio']:.2f} | | {verdict} |"
            )
    log("ratio = MLflow time / Keel time: > 1 means Keel is faster.")


# ----------------------------------------------------------------------------- the servers


def free_port() -> int:
    return mlflow_server.free_port()


def wait_for_health(port: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health/")
            if conn.getresponse().status == 200:
                return
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /health/ in time")


def keel_env(database_url: str, work: Path) -> dict:
    (work / "static").mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(work / "media"),
        "KEEL_DATA_ROOT": str(work / "data"),
        "STATIC_ROOT": str(work / "static"),
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Production sits behind a TLS proxy; the client talks plain HTTP to loopback here.
        "SECURE_SSL_REDIRECT": "0",
        "PYTHONPATH": str(ROOT),
    }
    for name in ("REDIS_URL", "MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN"):
        env.pop(name, None)
    return env


def prepare_keel(env: dict) -> str:
    """Migrates the database and returns the pipeline user's token."""
    started = time.perf_counter()
    manage = [PYTHON, str(ROOT / "manage.py")]
    settings = {**env, "DJANGO_SETTINGS_MODULE": "mlops.settings"}
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=settings, check=True)
    made = subprocess.run(
        [*manage, "create_pipeline_user", "bench-tracking"],
        cwd=ROOT,
        env=settings,
        check=True,
        capture_output=True,
        text=True,
    )
    log(f"Keel's database migrated and a pipeline user made in {time.perf_counter() - started:.1f} s")
    return made.stdout.strip().splitlines()[-1]


def start_gunicorn(env: dict, workers: int, threads: int, worker_class: str) -> tuple[subprocess.Popen, int]:
    """Keel's production server (wait_for_health before using it)."""
    port = free_port()
    command = [
        str(Path(PYTHON).with_name("gunicorn")),
        "--config",
        str(ROOT / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        worker_class,
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(
        command, cwd=ROOT, start_new_session=True, env={**env, "DJANGO_SETTINGS_MODULE": "mlops.settings_production"}
    )
    return proc, port


def stop_group(proc: subprocess.Popen | None) -> None:
    """Stops a process started in its own session and everything it started."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def descendants(pid: int) -> list[int]:
    """The processes `pid` started, and theirs (from /proc), parents first."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class MlflowWithWorkers(mlflow_server.MlflowServer):
    """`mlflow server` whose stop also stops the uvicorn server and workers it spawned: terminating
    the `mlflow` command alone leaves them running."""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            spawned = descendants(self.process.pid)
            for pid in spawned:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in spawned):
                time.sleep(0.1)
            for pid in spawned:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        super().stop()


def mlflow_can_use_postgres(executable: Path) -> bool:
    python = executable.with_name("python")
    return subprocess.run([str(python), "-c", "import psycopg2"], capture_output=True).returncode == 0


def versions(executable: Path, database_url: str) -> dict:
    import django
    import gunicorn
    import mlflow
    import psycopg2

    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW server_version")
            postgres = f"PostgreSQL {cur.fetchone()[0].split()[0]}"
    finally:
        conn.close()
    server = subprocess.run(
        [str(executable.with_name("python")), "-c", "import mlflow; print(mlflow.__version__)"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.processor())
    return {
        "machine": f"{os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": gunicorn.__version__,
        "postgres": postgres,
        "mlflow_client": mlflow.__version__,
        "mlflow_server": server,
    }


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ----------------------------------------------------------------------------- main


def measure(keel: Target, peer: Target, runs: int, warmup_runs: int) -> None:
    for target in (keel, peer):
        warm = target.experiment(f"warm-up-{secrets.token_hex(4)}")
        for index in range(warmup_runs):
            target.one_run(warm, index, timed=False)
        target.experiment_id = target.experiment(f"tracking-bench-{secrets.token_hex(4)}")
    log(f"both servers warmed up ({warmup_runs} untimed runs each); timing {runs} runs each, alternating")
    for index in range(runs):
        order = (keel, peer) if index % 2 == 0 else (peer, keel)
        for target in order:
            target.one_run(target.experiment_id, index, timed=True)
        if (index + 1) % 10 == 0:
            log(f"  {index + 1}/{runs} runs (load average {load_average()})")


def parse_args(argv=None) -> argparse.Namespace:
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="timed runs per server (default 50)")
    parser.add_argument("--warmup-runs", type=int, default=3, help="untimed runs per server first (default 3)")
    parser.add_argument("--mlflow-backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--workers", type=int, default=config["workers"], help="gunicorn's and mlflow's workers")
    parser.add_argument("--threads", type=int, default=config["threads"], help="threads per gunicorn worker")
    parser.add_argument("--worker-class", choices=["gthread", "sync"], default=config["worker_class"])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("KEEL_BENCH_DATABASE_URL", ""),
        help="a PostgreSQL server to make scratch databases on (default: a throwaway cluster)",
    )
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--keep-work-dir", action="store_true", help="keep the servers' files and logs")
    return parser.parse_args(argv)


def interrupted(*_) -> None:
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        executable = mlflow_server.mlflow_executable()
    except mlflow_server.MlflowServerMissing as exc:
        log(str(exc))
        return 2
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    # set_terminated would otherwise also fetch the run to print its URL: timed is the update alone.
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    if args.mlflow_backend == "postgres" and not mlflow_can_use_postgres(executable):
        log(
            f"--mlflow-backend postgres needs psycopg2 in {executable.parent.parent}: "
            f"{executable.with_name('pip')} install -r benchmarks/requirements-mlflow.txt (./run test does it)"
        )
        return 2
    # SIGTERM ends the run like Ctrl-C: through the `finally` blocks that stop everything.
    signal.signal(signal.SIGTERM, interrupted)

    work = Path(tempfile.mkdtemp(prefix="keel-tracking-bench-"))
    try:
        with contextlib.ExitStack() as stack:
            keel_db = stack.enter_context(bench_support.scratch_database(args.database_url, "keel_tracking"))
            mlflow_store = None
            if args.mlflow_backend == "postgres":
                mlflow_db = stack.enter_context(bench_support.scratch_database(keel_db, "mlflow_tracking"))
                # SQLAlchemy picks its driver by name: psycopg2, which requirements-mlflow.txt installs.
                mlflow_store = mlflow_db.replace("postgres://", "postgresql+psycopg2://", 1)
            env = keel_env(keel_db, work)
            token = prepare_keel(env)
            gunicorn, port = start_gunicorn(env, args.workers, args.threads, args.worker_class)
            stack.callback(stop_group, gunicorn)  # the servers stop before their databases are dropped
            wait_for_health(port, gunicorn)
            log(f"Keel: gunicorn on 127.0.0.1:{port} ({args.worker_class}, {args.workers}x{args.threads})")
            peer_server = MlflowWithWorkers(work / "mlflow", backend_store_uri=mlflow_store, workers=args.workers)
            stack.callback(peer_server.stop)
            peer_server.start()
            log(f"MLflow: mlflow server on {peer_server.url} ({args.mlflow_backend} backend)")

            meta = {
                **versions(executable, keel_db),
                "runs": args.runs,
                "warmup_runs": args.warmup_runs,
                "workers": args.workers,
                "threads": args.threads,
                "worker_class": args.worker_class,
                "mlflow_workers": args.workers,
                "mlflow_backend": args.mlflow_backend,
                "load_before": load_average(),
            }
            keel = Target("Keel", f"http://127.0.0.1:{port}", token)
            peer = Target("MLflow", peer_server.url, None)
            measure(keel, peer, args.runs, args.warmup_runs)
            meta["load_after"] = load_average()
            rows = figures(keel, peer, args.runs)
            print_table(rows, meta)
            if args.json:
                raw = {t.name: {c: [round(s * 1000, 3) for s in t.times[c]] for c in CALLS} for t in (keel, peer)}
                args.json.write_text(json.dumps({"meta": meta, "rows": rows, "times_ms": raw}, indent=2))
                log(f"figures written to {args.json}")
        return 0
    except KeyboardInterrupt:
        log("interrupted: stopping the servers and removing their files")
        return 130
    finally:
        if args.keep_work_dir:
            log(f"work dir kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
