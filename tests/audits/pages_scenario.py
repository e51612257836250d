"""Soom's audit story as the page tests (and the browser tests) read it: profiles in the contract's
shape (docs/audit-profile-format.md) and audits built by the audits factories."""

import numpy as np

from audits.models import AuditJob, AuditState, Finding
from tests.audits.factories import AuditJobFactory, FindingFactory

QUANTILES = ("0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99")


# --- profiles in the contract's shape (docs/audit-profile-format.md) ------------------------------


def numeric_column(values, edges, psi_edges, nulls=0) -> dict:
    values = np.asarray(values, dtype=float)
    return {
        "kind": "numeric",
        "count": int(values.size),
        "nulls": nulls,
        "non_numeric": 0,
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "m2": float(((values - values.mean()) ** 2).sum()),
        "edges": list(edges),
        "hist": np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1).tolist(),
        "psi_edges": list(psi_edges),
        "psi_hist": np.bincount(np.searchsorted(psi_edges, values, side="left"), minlength=len(psi_edges) + 1).tolist(),
        "quantiles": {q: float(np.quantile(values, float(q))) for q in QUANTILES},
    }


def soom_profiles() -> tuple[dict, dict]:
    """Soom's training signups and a batch where meetings got longer, event_type gained 'festival'
    and signup_date flipped to day/month/year. Returns (reference, current)."""
    rng = np.random.default_rng(11)
    train_minutes = rng.lognormal(3.4, 0.7, 4000)
    batch_minutes = rng.lognormal(3.7, 0.7, 950)
    edges = np.unique(np.quantile(train_minutes, np.linspace(0, 1, 201)[1:-1])).tolist()
    psi_edges = np.unique(np.quantile(train_minutes, np.linspace(0, 1, 11)[1:-1])).tolist()
    reference = {
        "rows": 4000,
        "columns": {
            "meeting_minutes": numeric_column(train_minutes, edges, psi_edges),
            "event_type": {
                "kind": "categorical",
                "count": 4000,
                "nulls": 0,
                "other": 0,
                "counts": {"meeting": 2400, "webinar": 1000, "conference": 400, "meetup": 200},
            },
            "plan": {
                "kind": "categorical",
                "count": 3960,
                "nulls": 40,
                "other": 0,
                "counts": {"free": 3000, "education": 960},
            },
            "signup_date": {
                "kind": "timestamp",
                "count": 4000,
                "nulls": 0,
                "unparseable": 0,
                "formats": {"%Y-%m-%d": 4000},
                "ambiguous_day_month": 0,
                "min": "2026-01-01T00:00:00",
                "max": "2026-06-30T00:00:00",
                "future": 0,
                "ancient": 0,
            },
            "customer_id": {"kind": "id", "count": 4000, "nulls": 0, "duplicates": 0, "duplicate_examples": []},
        },
    }
    current = {
        "rows": 1000,
        "columns": {
            "meeting_minutes": numeric_column(batch_minutes, edges, psi_edges, nulls=50),
            "event_type": {
                "kind": "categorical",
                "count": 1000,
                "nulls": 0,
                "other": 0,
                "counts": {"meeting": 520, "webinar": 210, "conference": 90, "meetup": 40, "festival": 140},
            },
            "plan": {
                "kind": "categorical",
                "count": 990,
                "nulls": 10,
                "other": 0,
                "counts": {"free": 750, "education": 240},
            },
            "signup_date": {
                "kind": "timestamp",
                "count": 1000,
                "nulls": 0,
                "unparseable": 0,
                "formats": {"%Y-%m-%d": 300, "%d/%m/%Y": 700},
                "ambiguous_day_month": 80,
                "min": "2026-07-01T00:00:00",
                "max": "2026-07-31T00:00:00",
                "future": 0,
                "ancient": 0,
            },
            "customer_id": {"kind": "id", "count": 1000, "nulls": 0, "duplicates": 0, "duplicate_examples": []},
        },
    }
    return reference, current


# --- the story's data ---------------------------------------------------------------------------

DRIFT_DETAILS = {
    "psi": 0.183,
    "ks_statistic": 0.162,
    "ks_pvalue": 3.1e-19,
    "ks_error_bound": 0.005,
    "wasserstein": 11.8,
    "wasserstein_scaled": 0.31,
    "scale": 38.0,
    "scale_basis": "iqr",
}


def audit(model, version, actor, name, *, state=AuditState.SUCCEEDED, verdict="", **fields) -> AuditJob:
    return AuditJobFactory(
        model=model, version=version, batch__name=name, created_by=actor, state=state, verdict=verdict, **fields
    )


def profiling(model, version, actor, name, *, rows_done, rows_total=1000) -> AuditJob:
    """An audit still running: it has profiled `rows_done` of the batch's `rows_total` rows."""
    return audit(
        model,
        version,
        actor,
        name,
        state=AuditState.RUNNING,
        stage="Profiling",
        rows_done=rows_done,
        rows_total=rows_total,
    )


def finding(job, check, column, status, message, **fields) -> Finding:
    return FindingFactory(job=job, check_name=check, column=column, status=status, message=message, **fields)
