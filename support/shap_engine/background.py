"""The background sample stored with a version: drawn from training rows, kept as JSON records,
read back with the schema's dtypes for the explainers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .inputs import (
    ExplainInputError,
    Feature,
    coerce,
    jsonable,
    parse_schema,
    typed_frame,
)

DEFAULT_BACKGROUND_ROWS = 100


def make_background(
    frame: pd.DataFrame, features: list[str], *, rows: int = DEFAULT_BACKGROUND_ROWS, seed: int = 0
) -> pd.DataFrame:
    """A small, deterministic sample of complete rows (the same frame and seed always give the same
    rows, in their original order) to store with a version as the explainers' background."""
    if rows < 1:
        raise ValueError("A background needs at least one row.")
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise ValueError(f"The frame lacks feature column(s): {', '.join(missing)}.")
    complete = frame.loc[frame[features].notna().all(axis=1), list(features)]
    if complete.empty:
        raise ValueError("The frame has no row with every feature filled in.")
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(len(complete), size=min(rows, len(complete)), replace=False))
    return complete.iloc[picked].reset_index(drop=True)


def background_to_records(background: pd.DataFrame, feature_schema: list[dict]) -> list[dict]:
    """JSON-ready records (plain str/int/float/bool, ISO dates) of a background, in schema order."""
    features = parse_schema(feature_schema)
    return [
        {name: jsonable(value) for name, value in record.items()}
        for record in _background_records(background, features)
    ]


def background_from_records(records: list[dict], feature_schema: list[dict]) -> pd.DataFrame:
    """The stored records back as a DataFrame with the schema's dtypes (str, float64, int64, ...)."""
    features = parse_schema(feature_schema)
    if not records:
        raise ValueError("The stored background has no rows.")
    return typed_frame(_background_records(pd.DataFrame(list(records)), features), features)


def _background_records(background: pd.DataFrame, features: tuple[Feature, ...]) -> list[dict]:
    names = [feature.name for feature in features]
    missing = [name for name in names if name not in background.columns]
    if missing:
        raise ValueError(f"The background lacks feature column(s): {', '.join(missing)}.")
    out = []
    for number, raw in enumerate(background[names].to_dict("records"), 1):
        try:
            out.append({feature.name: coerce(feature, raw[feature.name]) for feature in features})
        except ExplainInputError as exc:
            raise ValueError(f"Background row {number}: {exc}") from None
    return out


def background_frame(
    background: pd.DataFrame | list[dict] | None, features: tuple[Feature, ...]
) -> pd.DataFrame | None:
    if background is None:
        return None
    if not isinstance(background, pd.DataFrame):
        background = pd.DataFrame(list(background))
    if background.empty:
        raise ValueError("The background has no rows.")
    return typed_frame(_background_records(background, features), features)
