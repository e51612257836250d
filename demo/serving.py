"""The demo's serving logs: what Soom's serving system sends Keel for each prediction it made, the
raw request and the features after processing. Pure pandas, shared by the seed and the tests."""

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from .training import FEATURES

# The decision serving logs with each score: Soom reaches out to the signups it expects to upgrade.
UPGRADES, STAYS_FREE = "upgrades", "stays-free"


def decision(score: float | None, threshold: float) -> str:
    """The version's decision for a score: it expects an upgrade at or above its threshold."""
    return UPGRADES if score is not None and score >= threshold else STAYS_FREE


def serving_records(
    frame: pd.DataFrame,
    scores,
    *,
    version: int,
    start: datetime,
    every: timedelta,
    request_prefix: str = "req",
    dropped_by_processing: str | None = None,
    missing_features=(),
    threshold: float | None = None,
) -> list[dict]:
    """One log record per signup, timed `every` apart from `start`. `dropped_by_processing` names a
    feature the serving pipeline's processing turns into nulls (a parsing bug: the raw value is there,
    the model never sees it); `missing_features` are features serving stopped sending at all. With the
    version's `threshold`, each record also carries its decision (the label relabelling checks)."""
    records = []
    for i, (row, score) in enumerate(zip(frame.to_dict("records"), np.asarray(scores, dtype=float), strict=True)):
        raw = {name: _plain(row[name]) for name in FEATURES if name not in missing_features}
        features = dict(raw)
        if dropped_by_processing in features:
            features[dropped_by_processing] = None
        records.append(
            {
                "request_id": f"{request_prefix}-{i}",
                "version": version,
                "predicted_at": (start + i * every).isoformat(),
                "entity_id": str(row["customer_id"]),
                "raw_features": raw,
                "features": features,
                "score": round(float(score), 6),
            }
        )
        if threshold is not None:
            records[-1]["label"] = decision(float(score), threshold)
    return records


def _plain(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if np.isnan(value) else float(value)
    return value
