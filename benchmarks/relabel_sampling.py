"""Relabelling: sampling 1% of a big prediction log with Keel's streamed engine vs pandas'
DataFrame.sample, and the full coverage simulation of the error-rate intervals.

    .venv/bin/python benchmarks/relabel_sampling.py [--rows 10000000] [--chunk 500000] [--campaigns 1000]
                                                    [--skip-sampling] [--skip-coverage] [--workers 2]
                                                    [--database [--draw-rows 10000000] [--database-url …]]

1. Sampling. A synthetic prediction log of --rows rows (id, score with 1% missing, predicted label,
   shadow label; seeded, generated --chunk rows at a time) is sampled at --rate (1%) in two child
   processes, each timed from outside (spawn to exit) with its peak RSS from os.wait4's rusage of
   THAT child (as benchmarks/audit_throughput.py does):
     keel     audits.engine.relabel.draw(chunks, Design(kind="uniform", rate=...)) over the chunks as
              they are generated (the way the app streams the log from the database)
     pandas   the chunks concatenated into one DataFrame, then frame.sample(frac=rate, random_state=...)
   Both children generate the same rows the same way; the time inside each child spent sampling (not
   generating) is printed too. Then the ratios pandas/keel.
2. Coverage. audits.engine.relabel.coverage on two fixed synthetic populations (--sim-rows rows, true
   error rate 5% and 20%, errors concentrated near the threshold): --campaigns seeded campaigns per
   design, population and sample size (200 and 2,000), each estimating the error rate with a 95%
   interval; prints how often the interval held the truth, per design (PASS when 93-97% over both
   populations), with the mean interval width.

3. From the database (--database; benchmarks/relabel_draw.py says how): --draw-rows (10,000,000)
   logged predictions in PostgreSQL, a tenth of them first; the app's own draw
   (audits.services.campaign_create + campaign_draw, streaming the log from the database) vs pandas
   read_sql of the same rows + DataFrame.sample, each a child timed from outside with its peak RSS.

It is a benchmark, not a test: nothing fails on a slow run or a MISS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

import bench_support  # noqa: E402

from audits.engine.relabel import Design, draw  # noqa: E402
from audits.engine.relabel.coverage import coverage, simulation_designs, synthetic_population  # noqa: E402

COVERAGE_RANGE = (0.93, 0.97)
SIZES = (200, 2_000)
ERROR_RATES = (0.05, 0.20)


def log(message: str) -> None:
    print(message, flush=True)


# ---------------------------------------------------------------------------------- the log


def log_chunk(start: int, rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(start)
    score = rng.random(rows)
    score[rng.random(rows) < 0.01] = np.nan
    label = np.where(np.nan_to_num(score) >= 0.5, "yes", "no")
    other = np.where(rng.random(rows) < 0.05, np.where(label == "yes", "no", "yes"), label)
    return pd.DataFrame(
        {
            "id": np.arange(start, start + rows, dtype=np.int64) + 1,
            "score": score,
            "label": pd.Series(label, dtype="str"),
            "other_label": pd.Series(other, dtype="str"),
        }
    )


def chunks(rows: int, chunk: int):
    for start in range(0, rows, chunk):
        yield log_chunk(start, min(chunk, rows - start))


def child(tool: str, rows: int, chunk: int, rate: float, seed: int) -> None:
    """One measured run; its last stdout line is a JSON summary."""
    started = time.perf_counter()
    sampling = 0.0
    if tool == "keel":
        generated = 0.0

        def timed():
            nonlocal generated
            for start in range(0, rows, chunk):
                t = time.perf_counter()
                frame = log_chunk(start, min(chunk, rows - start))
                generated += time.perf_counter() - t
                yield frame

        sample = draw(timed(), Design(kind="uniform", rate=rate), seed=seed)
        sampling = time.perf_counter() - started - generated
        drawn = len(sample.items)
    else:
        frame = pd.concat(list(chunks(rows, chunk)), ignore_index=True)
        t = time.perf_counter()
        drawn = len(frame.sample(frac=rate, random_state=seed))
        sampling = time.perf_counter() - t
    print(json.dumps({"tool": tool, "drawn": drawn, "sampling_s": sampling, "total_s": time.perf_counter() - started}))


def run_measured(tool: str, args) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        tool,
        "--rows",
        str(args.rows),
        "--chunk",
        str(args.chunk),
        "--rate",
        str(args.rate),
    ]
    return bench_support.run_measured(cmd, cwd=ROOT)


def sampling_table(args) -> dict:
    log(f"\n1. Sampling {args.rate:.0%} of a {args.rows:,}-row prediction log ({args.chunk:,}-row chunks)")
    runs = {tool: run_measured(tool, args) for tool in ("keel", "pandas")}
    if args.rows >= 10 * args.chunk:
        # the same streamed draw on a tenth of the rows: memory should not grow with the log
        small = argparse.Namespace(**{**vars(args), "rows": args.rows // 10})
        runs[f"keel {small.rows:,} rows"] = {**run_measured("keel", small), "tool": "keel"}
    log(f"{'tool':<20} {'drawn':>10} {'wall s':>8} {'sampling s':>11} {'cpu s':>8} {'peak RSS MiB':>13}")
    for tool, r in runs.items():
        log(
            f"{tool:<20} {r['drawn']:>10,} {r['wall_s']:>8.2f} {r['sampling_s']:>11.2f} {r['cpu_s']:>8.2f} "
            f"{r['peak_rss_mib']:>13.0f}"
        )
    k, p = runs["keel"], runs["pandas"]
    log(
        f"pandas/keel: wall {p['wall_s'] / k['wall_s']:.2f}x, peak RSS {p['peak_rss_mib'] / k['peak_rss_mib']:.1f}x "
        f"(keel's sampling step {k['sampling_s']:.2f} s streaming vs pandas' {p['sampling_s']:.2f} s "
        "on the whole frame)"
    )
    small = [r for tool, r in runs.items() if tool.startswith("keel ")]
    if small:
        ratio = k["peak_rss_mib"] / small[0]["peak_rss_mib"]
        log(f"keel's peak RSS at {args.rows:,} rows / at a tenth of them: {ratio:.2f}x")
    return runs


# ------------------------------------------------------------------------------------ coverage


def _one(job):
    rate, n, name, rows, campaigns = job
    population = synthetic_population(rows, rate, seed=int(rate * 100))
    result = coverage(population, name, simulation_designs(n, rows)[name], campaigns=campaigns, seed=n)
    return rate, n, name, result


def coverage_table(args) -> None:
    log(f"\n2. Coverage of the 95% error-rate interval: {args.campaigns:,} campaigns per design, population and size;")
    log(f"   populations of {args.sim_rows:,} rows, true error rate {' and '.join(f'{r:.0%}' for r in ERROR_RATES)}")
    started = time.perf_counter()
    jobs = [
        (rate, n, name, args.sim_rows, args.campaigns)
        for n in SIZES
        for name in simulation_designs(n, args.sim_rows)
        for rate in ERROR_RATES
    ]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(_one, jobs))
    by = {}
    for rate, n, name, r in results:
        by.setdefault((name, n), {})[rate] = r
    head = "".join(f" {'cover ' + format(r, '.0%'):>9} {'width':>7}" for r in ERROR_RATES)
    log(f"{'design':<28} {'n':>5} {'items':>7}{head} {'both':>7}  93-97%")
    for (name, n), per in by.items():
        cells = "".join(f" {per[r].covered:>9.1%} {per[r].mean_width:>7.3f}" for r in ERROR_RATES)
        both = np.mean([per[r].covered for r in ERROR_RATES])
        verdict = "PASS" if COVERAGE_RANGE[0] <= both <= COVERAGE_RANGE[1] else "MISS"
        items = np.mean([per[r].mean_items for r in ERROR_RATES])
        log(f"{name:<28} {n:>5} {items:>7.0f}{cells} {both:>7.1%}  {verdict}")
    truths = {name: {r: per[r].truth for r in ERROR_RATES} for (name, _), per in by.items() if name == "disagreement"}
    if truths:
        log(
            "(truth of the disagreement design: the error rate among disagreeing rows: "
            + ", ".join(f"{v:.1%}" for v in truths["disagreement"].values())
            + ")"
        )
    log(f"coverage simulation: {time.perf_counter() - started:.0f} s on {args.workers} worker(s)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the prediction log to sample")
    parser.add_argument("--chunk", type=int, default=500_000, help="rows per streamed chunk")
    parser.add_argument("--rate", type=float, default=0.01, help="sampling rate (default 1%%)")
    parser.add_argument("--campaigns", type=int, default=1_000, help="campaigns per design, population and size")
    parser.add_argument("--sim-rows", type=int, default=50_000, help="rows of each simulated population")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes for the simulation")
    parser.add_argument("--skip-sampling", action="store_true")
    parser.add_argument("--skip-coverage", action="store_true")
    parser.add_argument("--database", action="store_true", help="also part 3: the app's draw from PostgreSQL")
    parser.add_argument("--draw-rows", type=int, default=10_000_000, help="part 3: rows of the biggest logged model")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""), help="part 3's server")
    parser.add_argument("--child", choices=("keel", "pandas"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.rows, args.chunk, args.rate, seed=7)
        return 0
    log(
        f"Keel relabelling benchmark; {platform.platform()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, pandas {pd.__version__}"
    )
    if not args.skip_sampling:
        sampling_table(args)
    if not args.skip_coverage:
        coverage_table(args)
    if args.database:
        import relabel_draw

        relabel_draw.draw_table(args.draw_rows, args.rate, args.database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
