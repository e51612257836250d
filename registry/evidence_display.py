"""Shapes the gate's evidence JSON (see registry/services/gate.py) into rows a template can print without
logic: which metric got worse, which slice is too small to judge, which plots exist.

Plain Python: the evidence is stored JSON, so every part may be missing (an older gate, a task type
without curves, a shadow request without hold-out data) and each function copes with that.
"""

from .evaluation import DESCRIPTIVE_METRICS, HIGHER_IS_BETTER, ROBUSTNESS_KINDS, perturbation_label

# Plot name in the URL → the evidence part it draws; a plot is offered only when its part exists.
PLOT_PARTS = {"curves": "curves", "prediction-diff": "prediction_diff", "importance": "importance"}


def metric_rows(evidence: dict) -> list[dict]:
    """One row per metric, primary metric first: candidate, production, baseline and whether the
    candidate is worse than production, judged in the metric's own direction (lower log loss is
    better). Descriptive numbers (prevalence, positive rate, k) are shown but never judged."""
    metrics = evidence.get("metrics") or {}
    candidate = metrics.get("candidate") or {}
    production = metrics.get("production") or {}
    baseline = metrics.get("baseline") or {}
    primary = evidence.get("primary_metric")
    names = list(dict.fromkeys([*candidate, *production, *baseline]))
    names.sort(key=lambda name: (name != primary, name in DESCRIPTIVE_METRICS))  # stable: keeps gate order
    rows = []
    for name in names:
        new, old = candidate.get(name), production.get(name)
        judged = name in HIGHER_IS_BETTER and name not in DESCRIPTIVE_METRICS
        higher = HIGHER_IS_BETTER.get(name, True)
        gain = None
        if judged and new is not None and old is not None:
            gain = (new - old) if higher else (old - new)
        rows.append(
            {
                "name": name,
                "primary": name == primary,
                "candidate": new,
                "production": old,
                "baseline": baseline.get(name),
                "change": None if new is None or old is None else new - old,
                "worse": gain is not None and gain < 0,
                "better": gain is not None and gain > 0,
                "direction": "" if not judged else ("higher is better" if higher else "lower is better"),
            }
        )
    return rows


def slice_tables(evidence: dict) -> list[dict]:
    """Per slice column: its slices, the gap the policy judges and which slice is worst. Slices below
    the minimum row count are marked: their metric is noise and the gap ignores them."""
    tables = []
    for column, found in (evidence.get("slices") or {}).items():
        min_rows = found.get("min_rows") or 0
        tables.append(
            {
                "column": column,
                "metric": found.get("metric") or evidence.get("primary_metric"),
                "gap": found.get("gap"),
                "worst": found.get("worst"),
                "min_rows": min_rows,
                "slices": [
                    {
                        **s,
                        "small": s.get("rows", 0) < min_rows,
                        "is_worst": s.get("value") == found.get("worst"),
                        "change": None
                        if s.get("candidate") is None or s.get("production") is None
                        else s["candidate"] - s["production"],
                    }
                    for s in found.get("slices") or []
                ],
            }
        )
    return tables


def available_plots(evidence: dict) -> list[str]:
    return [name for name, part in PLOT_PARTS.items() if evidence.get(part)]


def checks_summary(evidence: dict) -> dict:
    checks = evidence.get("checks") or []
    failed = [check for check in checks if not check.get("passed")]
    return {"total": len(checks), "failed": len(failed), "passed": len(checks) - len(failed)}


def _side(results: list[dict]) -> dict | None:
    """One model's results for one kind of perturbation, summed up: the columns that broke it, how
    many were not tried, and the largest median and max |Δscore| over the columns it scored."""
    results = [r for r in results if r]
    if not results:
        return None
    scored = [r for r in results if r.get("status") == "ok"]
    medians = [r["median_shift"] for r in scored if r.get("median_shift") is not None]
    largest = [r["max_shift"] for r in scored if r.get("max_shift") is not None]
    return {
        "failed": [r.get("column") or "all columns" for r in results if r.get("status") == "failed"],
        "not_run": sum(r.get("status") == "not_run" for r in results),
        "scored": len(scored),
        "median_shift": max(medians) if medians else None,
        "max_shift": max(largest) if largest else None,
    }


def robustness_table(evidence: dict) -> dict | None:
    """The robustness evidence as a compact table: one row per kind of perturbation (candidate beside
    production), then one line per perturbation that broke the candidate, with its short message."""
    found = evidence.get("robustness")
    if not found or not found.get("perturbations"):
        return None
    kinds: dict[str, list[dict]] = {}
    for row in found["perturbations"]:
        kinds.setdefault(row.get("kind"), []).append(row)
    rows = []
    for kind, entries in kinds.items():
        columns = [e.get("column") for e in entries if e.get("column")]
        rows.append(
            {
                "kind": kind,
                "label": ROBUSTNESS_KINDS.get(kind, kind),
                "columns": len(columns) or "all",
                # candidate, production: the table's two model columns
                "sides": [_side([e.get(role) for e in entries]) for role in ("candidate", "production")],
            }
        )
    failures = [
        {
            "label": perturbation_label(row.get("kind"), row.get("column")),
            "message": row["candidate"].get("message"),
            "production": (row.get("production") or {}).get("status"),
        }
        for row in found["perturbations"]
        if (row.get("candidate") or {}).get("status") == "failed"
    ]
    return {
        "rows": rows,
        "failures": failures,
        "sample_rows": found.get("rows"),
        "calls": found.get("calls") or {},
        "seconds": found.get("seconds"),
        "errors": found.get("errors") or [],
    }
