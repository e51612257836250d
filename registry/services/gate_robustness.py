"""The gate's robustness step: each model scores perturbed copies of sampled hold-out rows in its
isolated scorer (registry.evaluation.robustness builds the copies and judges the answers); the
candidate's results are stored beside production's."""

import logging
import time

import numpy as np
import pandas as pd
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError as DatabaseOperationalError

from mlops.clipping import clip
from mlops.sandbox import SandboxError, Scorer

from .. import evaluation
from ..models import ModelVersion

__all__: list[str] = []

log = logging.getLogger(__name__)

NUMERIC_TYPES = ("float", "int")


def _training_ranges(version: ModelVersion, columns: list[str]) -> dict:
    """{column: (min, max)} of the version's training reference, where it has one."""
    from audits.selectors import reference_profile_columns

    profile = reference_profile_columns(version)
    return {name: (profile[name].get("min"), profile[name].get("max")) for name in columns if name in profile}


def gate_robustness(
    task_type: str,
    version: ModelVersion,
    features: pd.DataFrame,
    scorer: Scorer,
    scores: np.ndarray,
    found: dict | None = None,
) -> dict:
    """Score perturbed copies of sampled hold-out rows with the version's scorer (after every other
    use of it: a perturbation that ends the scorer ends only this step). The first call (the
    candidate) fixes the numeric ranges, so production is probed with the same values."""
    started = time.monotonic()
    found = dict(found or {})
    schema = {f["name"]: f for f in version.feature_schema}
    numeric = [n for n in features if schema[n]["type"] in NUMERIC_TYPES and not schema[n].get("categorical")]
    categorical = [n for n in features if schema[n].get("categorical") or schema[n]["type"] in ("string", "bool")]
    if "ranges" not in found:
        found["ranges"] = evaluation.numeric_ranges(features, numeric, _training_ranges(version, numeric))
    ranges = {**evaluation.numeric_ranges(features, numeric), **found["ranges"]}
    rows = evaluation.sample_rows(len(features))
    plan = evaluation.perturbations(features.iloc[rows], numeric=numeric, categorical=categorical, ranges=ranges)
    role = "production" if "candidate" in found else "candidate"
    try:
        probe = evaluation.robustness_probe(
            lambda copy: scorer.scores(copy, task_type)[0],
            np.asarray(scores)[rows],
            plan,
            failures=(SandboxError,),
            alive=lambda: scorer.alive,
        )
    except (SoftTimeLimitExceeded, DatabaseOperationalError):
        raise  # the job's time limit, or a transient error the task retries
    except Exception as exc:  # the probe is evidence; a fault of its own must not fail the gate
        log.exception("Robustness probe of v%s failed", version.version)
        probe = {"results": [], "calls": 0, "error": f"{type(exc).__name__}: {clip(exc, 200)}"}
    probe.update(version=version.version, seconds=round(time.monotonic() - started, 3), rows=len(rows))
    found[role] = probe
    return found


def robustness_evidence(found: dict, task_type: str) -> dict:
    """What the gate stores: per perturbation the candidate's and production's results side by side."""
    candidate, production = found.get("candidate") or {}, found.get("production")
    return {
        "rows": candidate.get("rows"),
        "ranges": found.get("ranges") or {},
        "score": "P(label 1)" if task_type == "binary_classification" else "score",
        "calls": {"candidate": candidate.get("calls"), "production": (production or {}).get("calls")},
        "seconds": round(candidate.get("seconds", 0) + (production or {}).get("seconds", 0), 3),
        "errors": [part["error"] for part in (candidate, production or {}) if part.get("error")],
        "perturbations": evaluation.robustness_compare(candidate, production),
    }
