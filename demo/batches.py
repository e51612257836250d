"""The demo's incoming batches: what arrives at Soom after training, clean and broken in the ways the
audits must catch. Pure pandas/numpy, shared by the seed, the tests and the benchmark."""

from datetime import date

import pandas as pd

from .signups import EVENT_TYPES, EventProfile, generate_signups

# Soom's warehouse exports dates day-first; the broken export below switches to month-first.
EXPORT_DATE_FORMAT = "%d-%m-%Y"
FLIPPED_DATE_FORMAT = "%m-%d-%Y"

# A new kind of event the model never saw: long, crowded, and sells well.
FESTIVAL = {**EVENT_TYPES, "festival": EventProfile(0.15, 240, 0.4, 400, 50, 0.8)}


def clean_batch(n: int, *, start: date, end: date, seed: int, first_customer: int) -> pd.DataFrame:
    return generate_signups(n, start=start, end=end, seed=seed, first_customer=first_customer)


def festival_batch(n: int, *, start: date, end: date, seed: int, first_customer: int) -> pd.DataFrame:
    return generate_signups(n, start=start, end=end, seed=seed, first_customer=first_customer, event_types=FESTIVAL)


def shifted_batch(
    n: int, *, start: date, end: date, seed: int, first_customer: int, factor: float = 1.8
) -> pd.DataFrame:
    """Meeting durations inflated, as when the client starts counting lobby time as meeting time."""
    frame = generate_signups(n, start=start, end=end, seed=seed, first_customer=first_customer)
    frame["meeting_minutes"] = (frame["meeting_minutes"] * factor).round(1)
    return frame


def to_csv(frame: pd.DataFrame, *, date_format: str = EXPORT_DATE_FORMAT) -> bytes:
    """The frame as the warehouse exports it: UTF-8 CSV, dates in `date_format`."""
    return frame.to_csv(index=False, date_format=date_format).encode("utf-8")
