"""Audit throughput: Keel's whole audit vs Evidently's DataDriftPreset on the same Parquet files.

    .venv/bin/python benchmarks/audit_throughput.py [--rows 1000000] [--big-rows 10000000] [--skip-big]

1. Generates (seeded, cached in --work-dir with the row count in the name) a REFERENCE and a DRIFTED
   CURRENT data set of --rows rows x 20 columns as Parquet (benchmarks/bench_data.py says what drifts).
2. Runs each tool as a whole child process on the same files, timed from outside (wall clock, from
   spawn to exit: interpreter start, imports, reading, computing, writing the result) with its peak
   RSS taken from the kernel's rusage of THAT child (os.wait4). When /usr/bin/time exists each child
   also runs under `/usr/bin/time -f '%e %M'` and its figure is printed beside ours as a cross-check.
   (resource.getrusage(RUSAGE_CHILDREN).ru_maxrss is NOT used: it is the maximum over every child
   waited for so far, so a small run after a big one would inherit the big one's peak.)
     keel       .venv python benchmarks/keel_audit.py REF CUR       (check_file x2, build_reference,
                                                                     suggest_suite, audit_file)
     evidently  benchmarks/.venv-peers python benchmarks/evidently_drift.py REF CUR [--category-dtype]
   Evidently runs twice by default (--evidently both): with pandas' default read (strings as object)
   and with the string columns read as pandas category, its faster and smaller case.
   The peers' virtualenv is created from benchmarks/requirements-peers.txt when missing or stale.
3. Prints wall s, peak RSS MiB, cpu s and the load average before each run; the ratios and PASS/MISS
   against the targets (Keel >= 10x faster, Keel <= 1/3 of Evidently's peak memory) for each Evidently
   run and for the best of them (the conservative verdict); and whether each tool flagged the drift that
   was injected.
4. Unless --skip-big, writes a --big-rows CURRENT file chunk by chunk and audits it with Keel against
   the --rows reference, printing its peak RSS next to the --rows run's (memory should stay flat).

The results are also written as JSON to WORK_DIR/results-<rows>.json. This is a benchmark, not a test:
nothing here fails on a slow run (tests/benchmarks only checks that the Keel side still finds the drift).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import bench_data  # noqa: E402

PEERS_VENV = HERE / ".venv-peers"
PEERS_REQUIREMENTS = HERE / "requirements-peers.txt"
SPEED_TARGET = 10.0  # Keel at least this many times faster than Evidently
MEMORY_TARGET = 1 / 3  # Keel's peak RSS at most this share of Evidently's
FLAT_GROWTH = 1.5  # the big file's peak RSS at most this many times the --rows run's counts as flat
TIME_BIN = "/usr/bin/time"
# pandas' default read (strings as object) and the favourable one (strings as category dtype)
EVIDENTLY_VARIANTS = {"both": ("object", "category"), "object": ("object",), "category": ("category",)}


def log(message: str) -> None:
    print(message, flush=True)


# ------------------------------------------------------------------------------------- peers venv


def _requirements_stamp() -> str:
    return hashlib.sha256(PEERS_REQUIREMENTS.read_bytes()).hexdigest()


def ensure_peers_venv() -> Path:
    """benchmarks/.venv-peers with requirements-peers.txt installed; (re)built when missing or stale."""
    python = PEERS_VENV / "bin" / "python"
    stamp_file = PEERS_VENV / ".requirements-sha256"
    stamp = _requirements_stamp()
    if python.exists() and stamp_file.exists() and stamp_file.read_text().strip() == stamp:
        return python
    base = shutil.which("python3.11", path="/usr/local/bin:/usr/bin:/bin") or sys.executable
    if not python.exists():
        log(f"Creating {PEERS_VENV.relative_to(ROOT)} with {base} ...")
        subprocess.run([base, "-m", "venv", str(PEERS_VENV)], check=True)
    log(f"Installing {PEERS_REQUIREMENTS.relative_to(ROOT)} into it (Evidently pins pandas<3; Keel keeps its own) ...")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(PEERS_REQUIREMENTS)],
        check=True,
    )
    subprocess.run(
        [
            str(python),
            "-c",
            "import evidently, pandas; print('evidently', evidently.__version__, 'pandas', pandas.__version__)",
        ],
        check=True,
        env=_child_env(),
    )
    stamp_file.write_text(stamp)
    return python


# ------------------------------------------------------------------------------------ measurement


def _child_env() -> dict:
    env = dict(os.environ)
    env["DO_NOT_TRACK"] = "1"  # Evidently's telemetry
    env.setdefault("PYTHONHASHSEED", "0")
    env.pop("PYTHONPATH", None)
    return env


def run_measured(label: str, cmd: list[str], *, log_path: Path) -> dict:
    """Run cmd as a child process; wall seconds and peak RSS of that child (and its waited-for children).

    The child's stdout+stderr go to log_path; its last stdout line is parsed as JSON (the tool's summary).
    """
    use_time = os.access(TIME_BIN, os.X_OK)
    time_out = Path(tempfile.mkstemp(prefix="keel-bench-time-")[1]) if use_time else None
    full = ([TIME_BIN, "-f", "%e %M", "-o", str(time_out)] if use_time else []) + cmd
    load = os.getloadavg()[0]
    log(f"\n[{label}] {' '.join(cmd)}   (load average before: {load:.2f} on {os.cpu_count()} CPUs)")
    with open(log_path, "w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(full, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=_child_env())
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = log_path.read_text()
    result = {
        "label": label,
        "cmd": cmd,
        "exit": proc.returncode,
        "wall_s": wall,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        "log": str(log_path),
        "load_before": load,
    }
    if time_out is not None:
        try:
            elapsed, kib = time_out.read_text().strip().splitlines()[-1].split()
            result.update(time_wall_s=float(elapsed), time_peak_rss_mib=int(kib) / 1024)
        except (ValueError, IndexError):
            pass
        time_out.unlink(missing_ok=True)
    summary = None
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                summary = json.loads(line)
            break
    result["summary"] = summary
    for line in text.splitlines():
        if not line.startswith("{") and not line.startswith("Command exited"):
            log(f"  | {line}")
    if proc.returncode != 0 or summary is None:
        log(f"[{label}] FAILED (exit {proc.returncode}); see {log_path}")
    else:
        cross = (
            f"; /usr/bin/time: {result['time_wall_s']:.2f} s, {result['time_peak_rss_mib']:.0f} MiB"
            if "time_peak_rss_mib" in result
            else ""
        )
        log(f"[{label}] wall {wall:.2f} s, peak RSS {result['peak_rss_mib']:.0f} MiB (wait4 rusage){cross}")
    return result


def warm_page_cache(*paths: Path) -> None:
    """Read the files once so that neither tool pays for the first read from disk."""
    for path in paths:
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass


def median_run(runs: list[dict]) -> dict:
    """The run with the median wall time (of the ones that worked; the first failure if none did)."""
    good = sorted((r for r in runs if r["exit"] == 0 and r["summary"] is not None), key=lambda r: r["wall_s"])
    return good[(len(good) - 1) // 2] if good else runs[0]


# ----------------------------------------------------------------------------------------- checks


def keel_found_drift(summary: dict) -> tuple[bool, list[str]]:
    """Did Keel flag (warn/fail) each drifted column, and leave the stable numeric columns alone?"""
    flagged = summary.get("flagged", {})
    problems = []
    for column in bench_data.DRIFTED_NUMERIC + bench_data.DRIFTED_CATEGORICAL:
        if not any("drift" in check for check in flagged.get(column, {})):
            problems.append(f"{column} drift not flagged")
    for column in bench_data.NULLED:
        if column not in flagged:
            problems.append(f"{column} nulls not flagged")
    for column in bench_data.STABLE_NUMERIC:
        drift = {c: s for c, s in flagged.get(column, {}).items() if "drift" in c}
        if drift:
            problems.append(f"{column} flagged but not drifted ({drift})")
    return not problems, problems


def evidently_found_drift(summary: dict) -> tuple[bool, list[str]]:
    """Did Evidently's default per-column tests flag exactly the injected drifted columns? (The nulls
    added to two columns are not drift for it; its report has no quality checks.)"""
    expected = set(bench_data.DRIFTED_NUMERIC + bench_data.DRIFTED_CATEGORICAL)
    drifted = set(summary.get("drifted") or ())
    problems = [f"{c} not flagged" for c in sorted(expected - drifted)]
    problems += [f"{c} flagged but not drifted" for c in sorted(drifted - expected)]
    return not problems, problems


# ------------------------------------------------------------------------------------------- main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the reference and current files")
    parser.add_argument("--big-rows", type=int, default=10_000_000, help="rows of the big current file")
    parser.add_argument("--skip-big", action="store_true", help="skip the big-file Keel run")
    parser.add_argument("--skip-evidently", action="store_true", help="run Keel only (no peers venv)")
    parser.add_argument(
        "--evidently",
        choices=sorted(EVIDENTLY_VARIANTS),
        default="both",
        help="which Evidently runs: strings read as object (pandas' default), as category, or both",
    )
    parser.add_argument(
        "--keel-repeat",
        type=int,
        default=3,
        help="Keel's --rows audit runs this many times (it is short, so noise matters); "
        "the median run is reported (default 3)",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=ROOT / "var" / "bench",
        help="where the generated data, logs and results go (default: var/bench)",
    )
    parser.add_argument(
        "--cprofile",
        action="store_true",
        help="also run Keel's --rows audit under cProfile (and an RSS sampler per stage) and "
        "print its top engine functions",
    )
    args = parser.parse_args(argv)
    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)

    log(f"Keel audit benchmark: {args.rows:,} rows x {len(bench_data.COLUMNS)} columns; work dir {work}")
    log(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    started = time.perf_counter()
    files = {}
    for kind in ("reference", "current"):
        t = time.perf_counter()
        path, made = bench_data.ensure_dataset(work, kind, args.rows)
        files[kind] = path
        log(
            f"{kind}: {path.name} ({path.stat().st_size / 2**20:.0f} MiB) "
            + (f"generated in {time.perf_counter() - t:.1f} s" if made else "cached")
        )
    ref, cur = files["reference"], files["current"]
    warm_page_cache(ref, cur)

    results: dict = {
        "rows": args.rows,
        "columns": len(bench_data.COLUMNS),
        "runs": {},
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        # which engine was measured (its files change; a commit id alone misses a dirty tree)
        "engine_sha256": {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:12]
            for p in sorted((ROOT / "audits" / "engine").glob("*.py"))
        },
    }
    keel_cmd = [sys.executable, str(HERE / "keel_audit.py"), str(ref), str(cur)]
    keel_runs = [
        run_measured(
            f"keel (run {i + 1} of {max(1, args.keel_repeat)})",
            keel_cmd,
            log_path=work / f"keel-{args.rows}-run{i + 1}.log",
        )
        for i in range(max(1, args.keel_repeat))
    ]
    keel = median_run(keel_runs)
    results["runs"]["keel"] = keel
    results["runs"]["keel_all"] = keel_runs
    if len(keel_runs) > 1:
        walls = ", ".join(f"{r['wall_s']:.2f}" for r in keel_runs)
        log(f"[keel] walls {walls} s; the median run is reported")

    evidently_runs: dict[str, dict] = {}
    if not args.skip_evidently:
        peers_python = ensure_peers_venv()
        for variant in EVIDENTLY_VARIANTS[args.evidently]:
            warm_page_cache(ref, cur)
            ev_cmd = [
                str(peers_python),
                str(HERE / "evidently_drift.py"),
                str(ref),
                str(cur),
                "--json",
                str(work / f"evidently-{variant}-snapshot-{args.rows}.json"),
            ]
            if variant == "category":
                ev_cmd.append("--category-dtype")
            run = run_measured(
                f"evidently ({variant} strings)", ev_cmd, log_path=work / f"evidently-{variant}-{args.rows}.log"
            )
            evidently_runs[variant] = run
            results["runs"][f"evidently_{variant}"] = run

    big = None
    if not args.skip_big:
        t = time.perf_counter()
        big_path, made = bench_data.ensure_dataset(work, "current", args.big_rows)
        log(
            f"\nbig current: {big_path.name} ({big_path.stat().st_size / 2**20:.0f} MiB) "
            + (f"generated chunk by chunk in {time.perf_counter() - t:.1f} s" if made else "cached")
        )
        warm_page_cache(ref, big_path)
        big = run_measured(
            f"keel {args.big_rows:,}",
            [sys.executable, str(HERE / "keel_audit.py"), str(ref), str(big_path)],
            log_path=work / f"keel-{args.big_rows}.log",
        )
        results["runs"]["keel_big"] = big

    if args.cprofile:
        stats = work / f"keel-{args.rows}.pstats"
        run_measured(
            "keel under cProfile",
            keel_cmd + ["--cprofile", str(stats), "--memory"],
            log_path=work / f"keel-{args.rows}-cprofile.log",
        )
        import pstats

        log(f"\nKeel's cProfile ({stats}): engine functions by cumulative time, then everything by own time")
        p = pstats.Stats(str(stats))
        p.sort_stats("cumulative").print_stats("audits/engine", 25)
        p.sort_stats("tottime").print_stats(15)

    # ------------------------------------------------------------------------------------ report
    ok = lambda r: r is not None and r["exit"] == 0 and r["summary"] is not None  # noqa: E731
    log("\n" + "=" * 78)
    log(f"Results: {args.rows:,} rows x {len(bench_data.COLUMNS)} columns, reference and drifted current, Parquet")
    log(f"{'tool':<40}{'wall s':>9}{'peak RSS MiB':>14}{'cpu s':>9}{'load':>7}")
    rows = [("Keel (full audit)" + (f", median of {len(keel_runs)}" if len(keel_runs) > 1 else ""), keel)]
    for variant, run in evidently_runs.items():
        rows.append((f"Evidently DataDriftPreset, {variant}", run))
    if big is not None:
        rows.append((f"Keel, {args.big_rows:,}-row current", big))
    for name, r in rows:
        status = "" if ok(r) else "  FAILED"
        log(
            f"{name:<40}{r['wall_s']:>9.2f}{r['peak_rss_mib']:>14.0f}{r['user_s'] + r['sys_s']:>9.1f}"
            f"{r['load_before']:>7.2f}{status}"
        )

    verdicts = {}
    if ok(keel):
        found, problems = keel_found_drift(keel["summary"])
        verdicts["keel_found_injected_drift"] = found
        log(
            f"Keel verdict: {keel['summary']['verdict']}; injected drift "
            + ("found, stable columns left alone" if found else "NOT fully found: " + "; ".join(problems))
        )
    for variant, run in evidently_runs.items():
        if ok(run):
            found, problems = evidently_found_drift(run["summary"])
            verdicts[f"evidently_{variant}_found_injected_drift"] = found
            log(
                f"Evidently ({variant}): {len(run['summary'].get('drifted') or [])} drifted columns; injected drift "
                + ("found, stable columns left alone" if found else "NOT exactly found: " + "; ".join(problems))
            )

    good = {variant: run for variant, run in evidently_runs.items() if ok(run)}
    if ok(keel) and good:
        log(f"\nTargets: Keel >= {SPEED_TARGET:.0f}x faster, Keel peak RSS <= {MEMORY_TARGET:.3f} of Evidently's")
        comparisons = dict(good)
        if len(good) > 1:  # the conservative comparison: Evidently's best time and best memory of its runs
            comparisons["best of both"] = {
                "wall_s": min(r["wall_s"] for r in good.values()),
                "peak_rss_mib": min(r["peak_rss_mib"] for r in good.values()),
                "user_s": min(r["user_s"] + r["sys_s"] for r in good.values()),
                "sys_s": 0.0,
            }
        results["targets"] = {}
        for name, run in comparisons.items():
            speedup = run["wall_s"] / keel["wall_s"]
            cpu_speedup = (run["user_s"] + run["sys_s"]) / (keel["user_s"] + keel["sys_s"])
            memory = keel["peak_rss_mib"] / run["peak_rss_mib"]
            speed_pass, memory_pass = speedup >= SPEED_TARGET, memory <= MEMORY_TARGET
            results["targets"][name] = {
                "speedup": speedup,
                "cpu_speedup": cpu_speedup,
                "memory_ratio": memory,
                "speed_pass": speed_pass,
                "memory_pass": memory_pass,
            }
            log(
                f"  vs Evidently {name:<14} Evidently/Keel wall {speedup:6.2f}x "
                f"{'PASS' if speed_pass else 'MISS'}   Keel/Evidently RSS {memory:6.3f} "
                f"{'PASS' if memory_pass else 'MISS'}   (cpu-time ratio {cpu_speedup:5.2f}x, info)"
            )
        if max(r["load_before"] for r in [keel, *good.values()]) > (os.cpu_count() or 1):
            log(
                "  NOTE: the machine was busy (see the load column): wall times include waiting for a CPU; "
                "the cpu-time ratio is the steadier figure."
            )
    if ok(keel) and ok(big):
        growth = big["peak_rss_mib"] / keel["peak_rss_mib"]
        results["big_memory_growth"] = growth
        results["big_memory_flat"] = growth <= FLAT_GROWTH
        log(
            f"Keel peak RSS, {args.rows:,} -> {args.big_rows:,} rows: {keel['peak_rss_mib']:.0f} -> "
            f"{big['peak_rss_mib']:.0f} MiB ({growth:.2f}x for {args.big_rows / args.rows:.0f}x the rows): "
            + ("FLAT" if results["big_memory_flat"] else f"NOT FLAT (more than {FLAT_GROWTH}x)")
            + f"; wall {keel['wall_s']:.1f} -> {big['wall_s']:.1f} s"
        )
    results.update(verdicts)
    results["total_s"] = time.perf_counter() - started
    out = work / f"results-{args.rows}.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    log(f"benchmark took {results['total_s']:.0f} s; results in {out}")
    failed = [r for _, r in rows if not ok(r)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
