"""Serving lists under load: Keel's `GET /api/v1/support/lists` vs a static file of the same bytes.

    .venv/bin/python benchmarks/serving_lists.py [--entries 100000] [--clients 50] [--duration 10]

1. Makes a throwaway database (a SQLite file in the work dir; `--database-url` for another, e.g. a
   PostgreSQL you can spare) and, unless `--redis-url` is given, starts a throwaway `redis-server` on
   a free loopback port (production caches in Redis; without the binary it falls back to each
   worker's memory and says so). Migrates, then creates --entries ACTIVE entries through Keel's own
   bulk services (preview + confirm, as an agent would): 60% product blacklists on all surfaces, 20%
   customer blacklists on `home` expiring in 30 days, 20% product boosts on `home` for 14 days — all
   served on `home`. Writes the list's current JSON (and its .gz) into STATIC_ROOT as the floor.
2. Starts the production server: `gunicorn mlops.wsgi --config gunicorn.conf.py` (gthread, one
   worker per core, 4 threads each, keep-alive, as in production) with DJANGO_SETTINGS_MODULE=
   mlops.settings_production (DEBUG off, a random SECRET_KEY, HTTPS redirect and HSTS on). Requests
   carry `X-Forwarded-Proto: https`, the header those settings trust from the TLS proxy in front, so
   nothing is changed about the settings. `--workers`, `--threads`, `--worker-class sync` to compare.
3. --clients concurrent keep-alive connections from `wrk` (Debian package `wrk`: C and epoll, so the
   load generator takes little of the CPU it shares with the server; `--load python` uses threads
   with a minimal raw-socket HTTP/1.1 client instead) hit each scenario for --duration seconds after
   a one-second warm-up. It prints requests/s, p50 and p99 latency and the ratios against the
   static file served by the same gunicorn through whitenoise:
     304       If-None-Match with the current ETag         vs the static file's 304
     full      the whole list                             vs the static file
     full gz   the whole list, Accept-Encoding: gzip       vs the static file's .gz
     since     ?since=<current cursor> (nothing changed)   vs the static file's 304
   Targets: p99 < 20 ms for the 304 path, < 200 ms for the full list.

The pipeline authenticates with its token as a serving system would (Keel caches a token's user and
permissions for KEEL_SUPPORT_LISTS_AUTH_CACHE_SECONDS, so polls do not query the database).
Results go to WORK_DIR/serving-lists-results.json. A benchmark, not a test: nothing fails on a slow
run (tests/support/test_lists_benchmark_smoke.py runs it small so that it cannot rot).
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import multiprocessing
import os
import platform
import runpy
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
P99_TARGET_MS = {"304": 20.0, "full": 200.0, "full gz": 200.0, "since": 20.0}
LISTS_PATH = "/api/v1/support/lists?surface=home"
STATIC_PATH = "/static/bench/lists-home.json"


def log(message: str) -> None:
    print(f"[serving-lists] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- setup (runs in a child process with the benchmark's environment) ------------------------------------


def setup_data(entries: int, static_root: Path) -> dict:
    import django

    django.setup()
    from datetime import timedelta

    from django.contrib.auth.models import Group, User
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from support import selectors, services
    from support.lists import bodies
    from support.lists import cache as lists_cache
    from support.models import ListEntry, Surface

    agent, _ = User.objects.get_or_create(username="bench-agent")
    agent.groups.add(Group.objects.get(name="support-agents"))
    pipeline, _ = User.objects.get_or_create(username="bench-serving")
    pipeline.groups.add(Group.objects.get(name="pipelines"))
    token, _ = Token.objects.get_or_create(user=pipeline)
    home, _ = Surface.objects.get_or_create(name="home", defaults={"description": "Home page recommendations"})
    Surface.objects.get_or_create(name="search", defaults={"description": "Search results"})

    if not ListEntry.objects.exists():
        now = timezone.now()
        blacklisted, customers = int(entries * 0.6), int(entries * 0.2)
        boosted = entries - blacklisted - customers
        plans = [
            dict(
                kind="blacklist",
                entity_type="product",
                reason="inappropriate",
                all_surfaces=True,
                ids=[f"sku-{n:07d}" for n in range(blacklisted)],
            ),
            dict(
                kind="blacklist",
                entity_type="customer",
                reason="fraud",
                surfaces=["home"],
                expires_at=now + timedelta(days=30),
                ids=[f"cust-{n:07d}" for n in range(customers)],
            ),
            dict(
                kind="boost",
                entity_type="product",
                reason="cold_start",
                surfaces=["home"],
                weight=1.5,
                expires_at=now + timedelta(days=14),
                ids=[f"new-sku-{n:07d}" for n in range(boosted)],
            ),
        ]
        for plan in plans:
            ids = plan.pop("ids")
            if not ids:
                continue
            started = time.perf_counter()
            bulk = services.bulk_preview(actor=agent, file="\n".join(ids).encode(), filename="bench.csv", **plan)
            applied = services.bulk_confirm(bulk=bulk, actor=agent, confirm_count=bulk.new_count)
            log(
                f"  {applied.applied_count} {plan['kind']} entries ({plan['entity_type']}) via bulk preview + "
                f"confirm in {time.perf_counter() - started:.1f}s"
            )
    lists_cache.invalidate()

    found = selectors.serving_list(surface=home)
    _, body = bodies.serialise_list(found, timezone.now())
    target = static_root / "bench"
    target.mkdir(parents=True, exist_ok=True)
    (target / "lists-home.json").write_bytes(body)
    (target / "lists-home.json.gz").write_bytes(gzip.compress(body, compresslevel=6, mtime=0))
    return {
        "token": token.key,
        "active_entries": ListEntry.objects.active().count(),
        "served_blacklist": len(found.blacklist),
        "served_boosts": len(found.boosts),
        "body_bytes": len(body),
    }


# --- load ------------------------------------------------------------------------------------------------


class Connection:
    """A minimal keep-alive HTTP/1.1 client on a raw socket: the same request bytes each time, the
    response read by Content-Length (or chunks). Leaner than http.client, so 50 clients in Python
    measure the server rather than the client's own parsing."""

    def __init__(self, port: int, request: bytes):
        self.port, self.request, self.sock, self.buffer = port, request, None, b""

    def _connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def _read_until(self, marker: bytes) -> bytes:
        while (at := self.buffer.find(marker)) < 0:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed by the server")
            self.buffer += chunk
        found, self.buffer = self.buffer[:at], self.buffer[at + len(marker) :]
        return found

    def _read_exactly(self, size: int) -> bytes:
        parts, have = [self.buffer], len(self.buffer)
        while have < size:
            chunk = self.sock.recv(max(1 << 20, size - have))
            if not chunk:
                raise ConnectionError("closed by the server")
            parts.append(chunk)
            have += len(chunk)
        data = b"".join(parts)
        self.buffer = data[size:]
        return data[:size]

    def get(self) -> tuple[int, int]:
        """Send the request, read the whole response: (status, body bytes)."""
        if self.sock is None:
            self._connect()
        self.sock.sendall(self.request)
        head = self._read_until(b"\r\n\r\n").split(b"\r\n")
        status = int(head[0].split()[1])
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        if status == 304 or status == 204:
            size = 0
        elif b"content-length" in headers:
            size = len(self._read_exactly(int(headers[b"content-length"])))
        elif headers.get(b"transfer-encoding") == b"chunked":
            size = 0
            while (length := int(self._read_until(b"\r\n").split(b";")[0], 16)) > 0:
                size += len(self._read_exactly(length + 2)) - 2
            self._read_until(b"\r\n")
        else:
            raise ConnectionError("a response without a length")
        if headers.get(b"connection") == b"close":
            self.close()
        return status, size


def _request_bytes(path: str, headers: dict) -> bytes:
    lines = [
        f"GET {path} HTTP/1.1",
        *(f"{k}: {v}" for k, v in headers.items() if k.lower() != "host"),
        "Host: 127.0.0.1",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _client(port: int, path: str, headers: dict, expect: int, warm_until: float, stop_at: float, out: list):
    conn = Connection(port, _request_bytes(path, headers))
    latencies, errors, size, done = [], 0, 0, 0
    while True:
        started = time.perf_counter()
        if started >= stop_at:
            break
        try:
            status, size = conn.get()
            if status != expect:
                errors += 1
                if errors < 3:
                    log(f"unexpected {status} for {path}")
        except (OSError, ValueError, IndexError) as exc:
            errors += 1
            if errors < 3:
                log(f"error for {path}: {exc!r}")
            conn.close()
            continue
        done += 1
        if started >= warm_until:
            latencies.append(time.perf_counter() - started)
    conn.close()
    out.append((latencies, errors, size, done))


def _client_process(port, path, headers, expect, warm_until, stop_at, threads, queue):
    out: list = []
    workers = [
        threading.Thread(target=_client, args=(port, path, headers, expect, warm_until, stop_at, out))
        for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put(out)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes and their children (gunicorn's workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    wanted, total = set(pids), 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        if pid in wanted or ppid in wanted:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def run_load(
    port: int,
    path: str,
    headers: dict,
    expect: int,
    *,
    clients: int,
    procs: int,
    duration: float,
    server_pids: list[int],
    warmup: float = 1.0,
) -> dict:
    start = time.time() + 0.5
    warm_until, stop_at = start + warmup, start + warmup + duration
    # perf_counter differs between processes' starts only by a constant on Linux (CLOCK_MONOTONIC).
    offset = time.perf_counter() - time.time()
    queue = multiprocessing.get_context("fork").Queue()
    split = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    children = [
        multiprocessing.get_context("fork").Process(
            target=_client_process, args=(port, path, headers, expect, warm_until + offset, stop_at + offset, n, queue)
        )
        for n in split
        if n
    ]
    cpu_before = cpu_seconds(server_pids)
    for child in children:
        child.start()
    results = [item for _ in children for item in queue.get()]
    for child in children:
        child.join()
    server_cpu = cpu_seconds(server_pids) - cpu_before
    latencies = sorted(lat for lats, _, _, _ in results for lat in lats)
    errors = sum(err for _, err, _, _ in results)
    sizes = [size for _, _, size, _ in results if size]
    done = sum(count for _, _, _, count in results)
    cpu_us = server_cpu / done * 1e6 if done else None
    if not latencies:
        return {
            "requests": 0,
            "errors": errors,
            "rps": 0.0,
            "p50_ms": None,
            "p99_ms": None,
            "bytes": 0,
            "server_cpu_us": cpu_us,
        }

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / duration,
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "bytes": max(sizes) if sizes else 0,
        "server_cpu_us": cpu_us,
    }


WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "bytes": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\\n',
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def run_wrk(
    port: int,
    path: str,
    headers: dict,
    *,
    clients: int,
    threads: int,
    duration: float,
    server_pids: list[int],
    script: Path,
    warmup: float = 1.0,
) -> dict:
    """The same load from wrk (C, epoll): far less client CPU per request than Python threads, so
    on a machine where clients and server share the cores more of them goes to the server. Every
    connection is keep-alive; latency is per request, as the Python client measures it. A warm-up
    run is discarded. wrk reports statuses >= 400 and socket errors; the expected status is checked
    by the harness before the run and the bytes per response tell a 304 from a 200."""
    command = [
        "wrk",
        "-t",
        str(max(1, min(threads, clients))),
        "-c",
        str(clients),
        "-s",
        str(script),
        *(arg for k, v in headers.items() if k.lower() != "host" for arg in ("-H", f"{k}: {v}")),
        f"http://127.0.0.1:{port}{path}",
    ]
    if warmup > 0:
        subprocess.run([command[0], "-d", f"{max(1, round(warmup))}s", *command[1:]], check=True, capture_output=True)
    cpu_before = cpu_seconds(server_pids)
    # wrk takes whole seconds; the rate is computed from the duration it reports.
    done = subprocess.run(
        [command[0], "-d", f"{max(1, round(duration))}s", "--timeout", "30s", *command[1:]],
        check=True,
        capture_output=True,
        text=True,
    )
    server_cpu = cpu_seconds(server_pids) - cpu_before
    report = json.loads(done.stdout.strip().splitlines()[-1])
    requests = report["requests"]
    seconds = report["duration_us"] / 1e6
    errors = report["connect"] + report["read"] + report["write"] + report["status"] + report["timeout"]
    return {
        "requests": requests,
        "errors": errors,
        "rps": requests / seconds if seconds else 0.0,
        "p50_ms": report["p50_us"] / 1000 if requests else None,
        "p99_ms": report["p99_us"] / 1000 if requests else None,
        "bytes": report["bytes"] // requests if requests else 0,
        "server_cpu_us": server_cpu / requests * 1e6 if requests else None,
    }


# --- orchestration --------------------------------------------------------------------------------------


def wait_for(port: int, headers: dict, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health/", headers=headers)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /health/ in time")


def get(port: int, path: str, headers: dict) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def start_redis(work: Path) -> tuple[str, subprocess.Popen | None]:
    binary = shutil.which("redis-server")
    if not binary:
        log("WARNING: no redis-server: each gunicorn worker caches in its own memory (not production's setup)")
        return "", None
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(work)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return f"redis://127.0.0.1:{port}/0", proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("redis-server did not answer")


def print_table(rows: list[dict], meta: dict) -> None:
    print()
    print(
        f"Serving lists: {meta['active_entries']:,} active entries; `home` serves {meta['served_blacklist']:,} "
        f"blacklisted + {meta['served_boosts']:,} boosted IDs ({meta['body_bytes'] / 1e6:.1f} MB JSON)"
    )
    clients = (
        "wrk, keep-alive"
        if meta.get("load_generator") == "wrk"
        else f"Python clients over {meta['client_procs']} processes"
    )
    print(
        f"{meta['clients']} concurrent clients ({clients}), {meta['duration']:g}s per scenario; "
        f"gunicorn {meta['worker_class']} {meta['workers']} workers x {meta['threads']} threads; "
        f"{meta['cache']}; {meta['database']}; {meta['cpus']} CPUs, load {meta['load']}"
    )
    print()
    header = (
        "| scenario | server | req/s | p50 ms | p99 ms | server CPU µs/req | bytes/resp | errors | req/s vs static "
        "| p99 vs static | CPU vs static | target p99 |"
    )
    print(header)
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    by_scenario: dict[str, dict[str, dict]] = {}
    for row in rows:
        by_scenario.setdefault(row["scenario"], {})[row["server"]] = row
    for scenario, pair in by_scenario.items():
        for server in ("keel", "static"):
            row = pair.get(server)
            if row is None:
                continue
            floor = pair.get("static")
            ratio_rps = ratio_p99 = ratio_cpu = verdict = ""
            if server == "keel" and floor and floor["rps"] and row["p99_ms"] is not None:
                ratio_rps = f"{row['rps'] / floor['rps']:.2f}x"
                ratio_p99 = f"{row['p99_ms'] / floor['p99_ms']:.2f}x"
                if row["server_cpu_us"] and floor["server_cpu_us"]:
                    ratio_cpu = f"{row['server_cpu_us'] / floor['server_cpu_us']:.2f}x"
                target = P99_TARGET_MS[scenario]
                verdict = f"< {target:g} ms: {'PASS' if row['p99_ms'] < target else 'MISS'}"
            p50 = "-" if row["p50_ms"] is None else f"{row['p50_ms']:.1f}"
            p99 = "-" if row["p99_ms"] is None else f"{row['p99_ms']:.1f}"
            cpu = "-" if row["server_cpu_us"] is None else f"{row['server_cpu_us']:,.0f}"
            print(
                f"| {scenario} | {'Keel API' if server == 'keel' else 'static file'} | {row['rps']:,.0f} | {p50} "
                f"| {p99} | {cpu} | {row['bytes']:,} | {row['errors']} | {ratio_rps} | {ratio_p99} | {ratio_cpu} "
                f"| {verdict} |"
            )
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--client-procs", type=int, default=2, help="processes the client threads are spread over")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per scenario")
    parser.add_argument("--workers", type=int, help="default: gunicorn.conf.py's (one per core)")
    parser.add_argument("--threads", type=int, help="threads per gthread worker; default: gunicorn.conf.py's")
    parser.add_argument("--worker-class", choices=["gthread", "sync"], help="default: gunicorn.conf.py's")
    parser.add_argument("--scenarios", default="304,full,full gz,since")
    parser.add_argument(
        "--load",
        choices=["wrk", "python"],
        default="wrk" if shutil.which("wrk") else "python",
        help="load generator: wrk (Debian package `wrk`; the default when installed) or the built-in Python client",
    )
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk's threads (one per core is usual)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("KEEL_BENCH_DATABASE_URL", ""),
        help="default: a SQLite file in the work dir (the DB gets --entries rows)",
    )
    parser.add_argument("--redis-url", default="", help="default: a throwaway redis-server")
    parser.add_argument("--work-dir", default="", help="default: a temporary directory, removed afterwards")
    parser.add_argument("--setup-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.setup_only:  # the child that creates the data, with the benchmark's environment
        result = setup_data(args.entries, Path(os.environ["STATIC_ROOT"]))
        print(json.dumps(result))
        return 0

    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="keel-serving-lists-"))
    work.mkdir(parents=True, exist_ok=True)
    redis_proc = gunicorn = None
    try:
        redis_url, redis_proc = (args.redis_url, None) if args.redis_url else start_redis(work)
        database_url = args.database_url or f"sqlite:///{work / 'bench.sqlite3'}"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "STATIC_ROOT": str(work / "static"),
            "MEDIA_ROOT": str(work / "media"),
            "SECRET_KEY": secrets.token_urlsafe(64),
            "LOG_LEVEL": "WARNING",
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PYTHONPATH": str(ROOT),
            "KEEL_SUPPORT_BULK_MAX_ROWS": str(max(args.entries, 1000)),
            "KEEL_SUPPORT_BULK_MAX_BYTES": str(max(args.entries * 40, 1 << 20)),
            "KEEL_SUPPORT_RATE_LIMIT_CHANGES": "1000",
        }
        if not redis_url:
            env.pop("REDIS_URL")
        log(f"work dir {work}; database {database_url.split('@')[-1]}; cache {redis_url or 'per-worker memory'}")
        started = time.perf_counter()
        subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": "mlops.settings"},
            check=True,
        )
        log(f"migrated in {time.perf_counter() - started:.1f}s; creating {args.entries:,} entries")
        setup = subprocess.run(
            [PYTHON, str(Path(__file__).resolve()), "--setup-only", "--entries", str(args.entries)],
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": "mlops.settings"},
            check=True,
            capture_output=True,
            text=True,
        )
        sys.stderr.write(setup.stderr)
        meta = json.loads(setup.stdout.strip().splitlines()[-1])
        token = meta.pop("token")

        port = free_port()
        # The project's production server: gunicorn.conf.py, with any counts given here on top.
        config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
        args.workers = args.workers or config["workers"]
        args.threads = args.threads or config["threads"]
        args.worker_class = args.worker_class or config["worker_class"]
        command = [
            str(Path(PYTHON).with_name("gunicorn")),
            "--config",
            str(ROOT / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--worker-class",
            args.worker_class,
            "--threads",
            str(args.threads),
            "--log-level",
            "warning",
        ]
        gunicorn = subprocess.Popen(
            command,
            cwd=ROOT,
            start_new_session=True,
            env={**env, "DJANGO_SETTINGS_MODULE": "mlops.settings_production"},
        )
        proxy = {"X-Forwarded-Proto": "https", "Host": "127.0.0.1"}
        wait_for(port, proxy, gunicorn)
        # Server CPU: gunicorn and its workers, plus the Redis this run started (Keel's cache).
        server_pids = [gunicorn.pid] + ([redis_proc.pid] if redis_proc is not None else [])
        api = {**proxy, "Authorization": f"Token {token}"}

        status, headers, body = get(port, LISTS_PATH, api)
        if status != 200:
            raise SystemExit(f"the list answered {status}: {body[:300]!r}")
        etag, cursor = headers["etag"], json.loads(body)["cursor"]
        status, static_headers, static_body = get(port, STATIC_PATH, proxy)
        if status != 200:
            raise SystemExit(f"the static file answered {status}")
        if abs(len(static_body) - len(body)) > 64:
            raise SystemExit(f"static file ({len(static_body)} bytes) and list ({len(body)} bytes) differ")
        static_etag = static_headers["etag"]

        scenarios = {
            "304": [
                ("keel", LISTS_PATH, {**api, "If-None-Match": etag}, 304),
                ("static", STATIC_PATH, {**proxy, "If-None-Match": static_etag}, 304),
            ],
            "full": [("keel", LISTS_PATH, api, 200), ("static", STATIC_PATH, proxy, 200)],
            "full gz": [
                ("keel", LISTS_PATH, {**api, "Accept-Encoding": "gzip"}, 200),
                ("static", STATIC_PATH, {**proxy, "Accept-Encoding": "gzip"}, 200),
            ],
            "since": [
                ("keel", f"{LISTS_PATH}&since={cursor}", api, 200),
                ("static", STATIC_PATH, {**proxy, "If-None-Match": static_etag}, 304),
            ],
        }
        # Warm every worker first (its first requests import the URLconf's views and fill its memory).
        for name in ("304", "full"):
            for _server, path, headers, expect in scenarios[name]:
                run_load(
                    port,
                    path,
                    headers,
                    expect,
                    clients=max(args.workers * 4, 8),
                    procs=1,
                    duration=1.0,
                    server_pids=server_pids,
                    warmup=0.0,
                )
        rows = []
        script = work / "wrk-report.lua"
        script.write_text(WRK_REPORT)
        for name in [s.strip() for s in args.scenarios.split(",") if s.strip()]:
            for server, path, headers, expect in scenarios[name]:
                log(f"{name} / {server}: {args.clients} clients for {args.duration:g}s ({args.load})")
                if args.load == "wrk":
                    result = run_wrk(
                        port,
                        path,
                        headers,
                        clients=args.clients,
                        threads=args.wrk_threads,
                        duration=args.duration,
                        server_pids=server_pids,
                        script=script,
                    )
                else:
                    result = run_load(
                        port,
                        path,
                        headers,
                        expect,
                        clients=args.clients,
                        procs=args.client_procs,
                        duration=args.duration,
                        server_pids=server_pids,
                    )
                rows.append({"scenario": name, "server": server, **result})
        meta.update(
            clients=args.clients,
            client_procs=args.client_procs,
            duration=args.duration,
            load_generator=args.load,
            workers=args.workers,
            threads=args.threads if args.worker_class == "gthread" else 1,
            worker_class=args.worker_class,
            cache="Redis" if redis_url else "per-worker memory cache",
            database="PostgreSQL" if database_url.startswith("postgres") else "SQLite",
            cpus=os.cpu_count(),
            load=" ".join(f"{x:.1f}" for x in os.getloadavg()),
            python=platform.python_version(),
        )
        print_table(rows, meta)
        (work / "serving-lists-results.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
        return 0
    finally:
        if gunicorn is not None and gunicorn.poll() is None:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            try:
                gunicorn.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(gunicorn.pid, signal.SIGKILL)
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(10)
        if not args.work_dir and not args.setup_only:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
