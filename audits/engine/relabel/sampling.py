"""Seeded, reproducible uniform draws from a population streamed in chunks (uniform designs only)."""

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

KINDS = ("uniform", "stratified", "uncertainty", "disagreement")


@dataclass(frozen=True)
class Design:
    kind: str
    rate: float | None = None
    size: int | None = None
    strata: str | None = None
    stratum_sizes: dict[str, int] | None = None
    bands: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    threshold: float | None = None


@dataclass
class Sample:
    items: pd.DataFrame
    population: int
    stratum_population: dict[str, int]
    design: Design
    seed: int


def design_from_dict(d: dict) -> Design:
    if not isinstance(d, dict):
        raise ValueError("design: send an object")
    kind = d.get("kind")
    if kind != "uniform":
        raise ValueError(f"kind: {kind!r} is not a design this engine draws (uniform)")
    rate, size = d.get("rate"), d.get("size")
    if (rate is None) == (size is None):
        raise ValueError("rate: give a rate or a size, not both")
    if rate is not None and not (isinstance(rate, int | float) and 0 < rate <= 1):
        raise ValueError("rate: a share in (0, 1]")
    if size is not None and not (isinstance(size, int) and not isinstance(size, bool) and size >= 1):
        raise ValueError("size: a whole number of at least 1")
    return Design(kind="uniform", rate=None if rate is None else float(rate), size=size)


def design_to_dict(design: Design) -> dict:
    out = asdict(design)
    out["bands"] = list(design.bands)
    return out


def _keys(ids: np.ndarray, seed: int) -> np.ndarray:
    """A uniform number in [0, 1) per id, from a keyed hash of (seed, id) (splitmix64)."""
    with np.errstate(over="ignore"):
        x = ids.astype(np.uint64) ^ np.uint64((seed * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def draw(chunks: Iterable[pd.DataFrame], design: Design, *, seed: int) -> Sample:
    population, kept_ids, kept_keys = 0, np.empty(0, np.int64), np.empty(0)
    for chunk in chunks:
        ids = chunk["id"].to_numpy(dtype=np.int64)
        population += len(ids)
        keys = _keys(ids, seed)
        if design.rate is not None:
            mask = keys < design.rate
            kept_ids, kept_keys = np.concatenate([kept_ids, ids[mask]]), np.concatenate([kept_keys, keys[mask]])
        else:
            kept_ids, kept_keys = np.concatenate([kept_ids, ids]), np.concatenate([kept_keys, keys])
            if len(kept_ids) > design.size:
                order = np.argsort(kept_keys, kind="stable")[: design.size]
                kept_ids, kept_keys = kept_ids[order], kept_keys[order]
    if design.rate is not None:
        probability = design.rate
    else:
        probability = min(1.0, design.size / population) if population else 1.0
    order = np.argsort(kept_ids)
    items = pd.DataFrame(
        {"id": kept_ids[order], "stratum": "all", "inclusion_probability": np.full(len(order), probability)}
    )
    return Sample(
        items=items,
        population=population,
        stratum_population={"all": population} if population else {},
        design=design,
        seed=seed,
    )
