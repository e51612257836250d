"""Seeded generator of free-tier signups for Soom, a video-conferencing company.

Pure (numpy and pandas only) so tests, the seed command and the benchmarks can all call it.
Each row is one signup; the label `upgraded_90d` says whether the customer bought a paid plan within
90 days. It is drawn from a logistic function of the features plus a hidden factor, so a model can
learn real signal (ROC AUC around 0.8) without being able to predict it perfectly.

Ways to make a drifted batch (demo/batches.py uses them):
- a new event type such as `festival`: pass `event_types=` with an extra `EventProfile`;
- a shifted numeric column: transform the returned frame (e.g. `meeting_minutes * 1.8`), or pass a
  profile with a different `minutes_median`;
- a flipped date format: format `signup_date` differently when writing the batch's CSV.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

LABEL = "upgraded_90d"
COLUMNS = ["customer_id", "signup_date", "plan", "country", "event_type", "meeting_minutes", "attendees", LABEL]

# name -> (share of signups, effect on the log-odds of upgrading)
PLANS: dict[str, tuple[float, float]] = {
    "free": (0.60, 0.0),
    "free-trial-pro": (0.18, 1.4),  # already tried the paid features
    "education": (0.13, -0.8),  # tight budgets, seasonal
    "nonprofit": (0.09, -0.2),
}

COUNTRIES: dict[str, tuple[float, float]] = {
    "US": (0.28, 0.35),
    "IN": (0.12, -0.45),
    "GB": (0.08, 0.25),
    "DE": (0.07, 0.2),
    "BR": (0.07, -0.3),
    "FR": (0.05, 0.05),
    "CA": (0.05, 0.25),
    "JP": (0.05, -0.1),
    "AU": (0.04, 0.2),
    "MX": (0.04, -0.3),
    "NL": (0.03, 0.15),
    "NG": (0.03, -0.5),
}
# The shares above are rounded; anything left over is spread evenly by the normalisation below.


@dataclass(frozen=True)
class EventProfile:
    """How one kind of event looks: how common it is, how long, how many people, how it sells."""

    share: float
    minutes_median: float
    minutes_sigma: float  # of log(minutes)
    attendees_mean: float
    attendees_min: int
    upgrade_effect: float


EVENT_TYPES: dict[str, EventProfile] = {
    "meeting": EventProfile(0.55, 32, 0.65, 3.5, 2, 0.0),
    "webinar": EventProfile(0.20, 55, 0.45, 60, 10, 0.45),
    "conference": EventProfile(0.10, 150, 0.5, 180, 30, 0.6),
    "meetup": EventProfile(0.15, 75, 0.5, 18, 5, -0.35),
}

# Chosen so that about 15% of signups upgrade with the default profiles.
INTERCEPT = -2.7


def _weights(table: Mapping) -> tuple[list[str], np.ndarray]:
    names = list(table)
    shares = np.array([v.share if isinstance(v, EventProfile) else v[0] for v in table.values()], dtype=float)
    return names, shares / shares.sum()


def _upgrade_log_odds(frame: pd.DataFrame, events: Mapping[str, EventProfile], hidden: np.ndarray) -> np.ndarray:
    minutes = frame["meeting_minutes"].to_numpy()
    median = frame["event_type"].map({k: v.minutes_median for k, v in events.items()}).to_numpy(dtype=float)
    attendees = frame["attendees"].to_numpy()
    z = (
        INTERCEPT
        + frame["plan"].map({k: v[1] for k, v in PLANS.items()}).to_numpy(dtype=float)
        + frame["country"].map({k: v[1] for k, v in COUNTRIES.items()}).to_numpy(dtype=float)
        + frame["event_type"].map({k: v.upgrade_effect for k, v in events.items()}).to_numpy(dtype=float)
        # Engagement counts relative to what is usual for the kind of event, and a little in absolute terms.
        + 1.3 * np.log(minutes / median)
        + 0.2 * np.log(minutes / 40.0)
        + 0.2 * (np.log1p(attendees) - np.log1p(8))
        # A bounced first call (under 10 minutes) rarely leads anywhere: a non-linearity for the trees.
        - 1.2 * (minutes < 10)
        + hidden
    )
    return z


def generate_signups(
    n: int,
    *,
    start: date,
    end: date,
    seed: int,
    event_types: Mapping[str, EventProfile] | None = None,
    first_customer: int = 1,
) -> pd.DataFrame:
    """`n` signups dated uniformly in [start, end], sorted by date, reproducible from `seed`.

    `first_customer` numbers the ids (C000001, …) so a later batch can continue where one ended.
    """
    if n < 0:
        raise ValueError("n must be zero or more")
    if end < start:
        raise ValueError("end must not be before start")
    events = dict(event_types or EVENT_TYPES)
    rng = np.random.default_rng(seed)

    days = (end - start).days + 1
    signup_date = pd.Timestamp(start) + pd.to_timedelta(np.sort(rng.integers(0, days, n)), unit="D")

    plan_names, plan_p = _weights(PLANS)
    country_names, country_p = _weights(COUNTRIES)
    event_names, event_p = _weights(events)
    plan = rng.choice(plan_names, size=n, p=plan_p)
    country = rng.choice(country_names, size=n, p=country_p)
    event_type = rng.choice(event_names, size=n, p=event_p)

    profiles = [events[e] for e in event_type]
    median = np.array([p.minutes_median for p in profiles], dtype=float)
    sigma = np.array([p.minutes_sigma for p in profiles], dtype=float)
    minutes = np.round(median * np.exp(sigma * rng.standard_normal(n)), 1).clip(1.0, 720.0)
    attendees_mean = np.array([p.attendees_mean for p in profiles], dtype=float)
    attendees_min = np.array([p.attendees_min for p in profiles], dtype=np.int64)
    # Gamma-Poisson (negative binomial) keeps the long right tail that real head counts have.
    attendees = attendees_min + rng.poisson(rng.gamma(2.0, attendees_mean / 2.0))

    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in range(first_customer, first_customer + n)],
            "signup_date": signup_date,
            "plan": pd.Series(plan, dtype="str"),
            "country": pd.Series(country, dtype="str"),
            "event_type": pd.Series(event_type, dtype="str"),
            "meeting_minutes": minutes.astype(np.float64),
            "attendees": attendees.astype(np.int64),
        }
    )
    # The hidden factor (budget, team size…) is what no model sees; it keeps the task honest.
    hidden = rng.normal(0.0, 0.5, n)
    p_upgrade = 1.0 / (1.0 + np.exp(-_upgrade_log_odds(frame, events, hidden)))
    frame[LABEL] = (rng.random(n) < p_upgrade).astype(np.int64)
    return frame[COLUMNS]


def minutes_as_hours(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with meeting_minutes in hours, as a warehouse migration that changed the column's unit
    would deliver it. A model trained on it reads real minutes as 60× longer meetings."""
    out = df.copy()
    out["meeting_minutes"] = (out["meeting_minutes"] / 60).round(3)
    return out
