"""What the database benchmarks share: a throwaway PostgreSQL on loopback (or the one a URL names),
a scratch database of their own on it migrated with Keel's migrations, and a child process timed
from outside with its own peak RSS.

Used by relabel_queue.py (the next card) and relabel_draw.py (the draw streamed from the log).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def log(message: str = "") -> None:
    print(message, flush=True)


# ----------------------------------------------------------------------------- PostgreSQL


def _pg_bindir() -> Path:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise SystemExit("PostgreSQL server binaries not found: install postgresql or pass --database-url")


def _as_pg(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.getuid() == 0 else cmd


class ThrowawayPostgres:
    """A loopback-only cluster like `./run test` starts: trust auth, fsync off, removed on stop."""

    def __init__(self):
        self.bindir = _pg_bindir()
        self.dir = Path(tempfile.mkdtemp(prefix="keel-bench-pg."))
        os.chmod(self.dir, 0o755)
        if os.getuid() == 0:
            shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]

    def start(self) -> str:
        run = dict(check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        subprocess.run(
            _as_pg([str(self.bindir / "initdb"), "-D", str(self.data), "-U", "keel", "--auth=trust", "--no-sync"]),
            **run,
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        subprocess.run(
            _as_pg([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"), "-w"])
            + ["-o", options, "start"],
            **run,
        )
        return f"postgres://keel@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        subprocess.run(
            _as_pg([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


def with_database(url: str, name: str) -> str:
    head, _, _ = url.rpartition("/")
    return f"{head}/{name}"


def _admin(url: str, sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


@contextlib.contextmanager
def scratch_database(url: str, prefix: str):
    """Yields the URL of a new database `prefix_<pid>` on the server `url` names (a throwaway cluster
    started here when `url` is not a PostgreSQL URL), dropped afterwards with the cluster."""
    server = None
    if not url.startswith(("postgres://", "postgresql://")):
        server = ThrowawayPostgres()
        url = server.start()
        log(f"started a throwaway PostgreSQL ({server.bindir.parent.name}) on 127.0.0.1:{server.port}")
    name = f"{prefix}_{os.getpid()}"
    _admin(url, f"CREATE DATABASE {name}")
    try:
        yield with_database(url, name)
    finally:
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        _admin(url, f"DROP DATABASE IF EXISTS {name}")
        if server:
            server.stop()


def setup_django(url: str) -> None:
    """Django on the database `url`, migrated with Keel's migrations (so the indexes are the app's)."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlops.settings")
    import django

    django.setup()
    import logging

    from django.core.management import call_command

    logging.disable(logging.WARNING)  # axes' sign-in lines and the like, per request
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    log(f"migrated in {time.perf_counter() - started:.1f} s")


# ----------------------------------------------------------------------------- measured children


# The measured child is started by this small launcher, not by the benchmark itself: Linux starts a
# child's peak RSS at what its parent had mapped when it forked (checked: `python -c pass` reports
# 311 MiB from a parent holding 300 MiB, 8 MiB from the launcher), and a benchmark that set up Django
# and built its data holds hundreds of MiB. The launcher imports nothing beyond os, sys and time.
LAUNCHER = """
import os, sys, time
started = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
sys.stdout.flush()
print('{"wall_s": %r, "peak_rss_mib": %r, "cpu_s": %r}'
      % (wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime), flush=True)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(cmd: list[str], *, cwd: Path, env: dict | None = None) -> dict:
    """Run `cmd` (an absolute program path first), whose last stdout line is a JSON summary; return
    it with the wall time from spawn to exit, the CPU time and the peak RSS of THAT process from
    os.wait4's rusage (getrusage(RUSAGE_CHILDREN) would be the maximum over every child waited for
    so far), taken by LAUNCHER."""
    launcher = [sys.executable, "-S", "-c", LAUNCHER, *cmd]
    proc = subprocess.run(launcher, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd, env=env)
    lines = proc.stdout.decode().strip().splitlines()
    if proc.returncode != 0 or len(lines) < 2:
        raise SystemExit(f"{' '.join(cmd[:4])} failed:\n" + "\n".join(lines))
    return {**json.loads(lines[-2]), **json.loads(lines[-1])}
