"""Smoke test of benchmarks/relabel_sampling.py's sampling part, so it cannot silently rot: on a small
log both measured children run and draw about 1% of the rows. No timings are asserted."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import relabel_sampling  # noqa: E402


def test_both_tools_draw_about_one_percent(capsys):
    args = relabel_sampling.argparse.Namespace(rows=20_000, chunk=5_000, rate=0.01)
    runs = relabel_sampling.sampling_table(args)
    assert {"keel", "pandas"} <= set(runs)
    for run in runs.values():
        assert 120 <= run["drawn"] <= 280 and run["peak_rss_mib"] > 0
    assert "pandas/keel" in capsys.readouterr().out
