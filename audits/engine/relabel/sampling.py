"""Seeded, streamed sampling of a prediction log for human relabelling.

The population arrives as DataFrame chunks with columns `id` (unique int), `score` (float or NaN),
`label` (the predicted class) and, for the disagreement design, `other_label` (the shadow/canary
decision on the same request, or None). `draw` reads each chunk once and keeps only candidates, so
memory is bounded by the sample size (plus one chunk), never the population.

Randomness: every row gets a uniform number u in (0, 1] from a keyed hash of (seed, id) (splitmix64,
vectorised on uint64), so the draw depends on the seed and the ids only, not on chunk boundaries or
row order, and re-running a campaign with its seed draws the same rows.

Designs and inclusion probabilities (pi):

* uniform, rate r: Bernoulli, row kept when u < r; pi = r.
* uniform, size n: the n rows with the smallest u (bottom-k, a simple random sample); pi = n/N.
* stratified: the same per stratum (predicted class, or score band with NaN scores in "no score");
  pi = min(1, n_h/N_h). A stratum missing from `stratum_sizes` is counted but not sampled (pi = 0
  there, so estimates cover the sampled strata only).
* uncertainty: sequential Poisson (priority) sampling: key u/w with weight w from the score (closeness
  to the threshold, or the binary entropy of the score when no threshold is given; NaN scores get the
  largest weight; every row keeps at least UNCERTAINTY_FLOOR of the largest weight so no part of the
  population has pi = 0). The n smallest keys are kept; with tau the (n+1)-th smallest key,
  pi = min(1, w*tau): proportional to w, capped at 1, summing to about n, in one pass.
* disagreement: only rows whose `label` differs from a present `other_label`; n of them uniformly
  (bottom-k); pi = n/N_d, and 0 elsewhere: estimates from such a sample describe the disagreement
  population only. `against` names the shadow/canary versions whose decisions are `other_label`
  (the caller pairs them by request); rows with no other decision are never drawn.
* audit_flagged: only rows whose `flag` column is set (the caller decides which rows an audit's
  findings flag, see audits.services.relabel_sources); n of them uniformly (bottom-k), pi = n/N_f
  (1 when every flagged row fits in the size), 0 elsewhere: estimates describe the flagged rows
  only. The stratum is the flag (which finding flagged the row).
* label_errors: purposive, not random: the top `size` suspected label errors by cleanlab's
  confident learning (label_errors.py), pi = 1 for each drawn row. An estimate from it is the error
  rate among the drawn suspects, nothing more; it is not a probability sample of anything larger.

`chunks` may be an iterable of DataFrames or a zero-argument callable returning a fresh one (for
callers that open a database cursor lazily); it is read once either way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "DESIGN_KINDS",
    "NO_SCORE",
    "STRATA",
    "UNCERTAINTY_FLOOR",
    "Design",
    "DesignError",
    "Sample",
    "band_names",
    "design_from_dict",
    "design_to_dict",
    "draw",
    "row_uniforms",
    "uncertainty_weight",
]

DESIGN_KINDS = ("uniform", "stratified", "uncertainty", "disagreement", "audit_flagged", "label_errors")
STRATA = ("predicted_class", "score_band")
DEFAULT_BANDS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
NO_SCORE = "no score"
ALL = "all"
DISAGREEMENT = "disagreement"
FLAGGED = "flagged"
# The smallest uncertainty weight as a share of the largest: confident rows keep a chance of being
# drawn, so the design-weighted estimate covers the whole population.
UNCERTAINTY_FLOOR = 0.1
_FIELDS = (
    "kind",
    "rate",
    "size",
    "strata",
    "stratum_sizes",
    "bands",
    "threshold",
    "against",
    "audit",
    "batch",
    "label_column",
    "positive",
)
# Which design needs which source field (and which are optional), beyond kind and size.
_SOURCE_FIELDS = {
    "disagreement": {"against": False},
    "audit_flagged": {"audit": True},
    "label_errors": {"batch": True, "label_column": False, "positive": True},
}


class DesignError(ValueError):
    """A bad design; str() is "field: message" and `field` names the offending field."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class Design:
    kind: str
    rate: float | None = None
    size: int | None = None
    strata: str | None = None
    stratum_sizes: dict[str, int] | None = None
    bands: tuple[float, ...] = DEFAULT_BANDS
    threshold: float | None = None
    against: tuple[int, ...] | None = None  # disagreement: shadow/canary version numbers
    audit: int | None = None  # audit_flagged: the audit whose findings flag rows
    batch: int | None = None  # label_errors: the labelled batch
    label_column: str | None = None  # label_errors: its column of given labels (default "label")
    positive: str | None = None  # label_errors: the class the logged score is the probability of


@dataclass
class Sample:
    items: pd.DataFrame  # id, stratum, inclusion_probability; in the draw's random order
    population: int
    stratum_population: dict[str, int]
    design: Design
    seed: int


# ------------------------------------------------------------------------------------ validation


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _check_size(value, kind: str) -> int:
    if not _is_int(value) or value < 1:
        raise DesignError("size", f"must be a whole number of at least 1 for the {kind} design")
    return int(value)


def design_from_dict(d: dict) -> Design:
    """A validated Design from plain values; DesignError (a ValueError) "field: message" otherwise."""
    if not isinstance(d, dict):
        raise DesignError("design", "must be an object")
    unknown = sorted(set(d) - set(_FIELDS))
    if unknown:
        raise DesignError(unknown[0], f"unknown field (known: {', '.join(_FIELDS)})")
    kind = d.get("kind")
    if kind not in DESIGN_KINDS:
        raise DesignError("kind", f"must be one of {', '.join(DESIGN_KINDS)}")
    rate, size = d.get("rate"), d.get("size")
    strata, stratum_sizes = d.get("strata"), d.get("stratum_sizes")
    bands, threshold = d.get("bands"), d.get("threshold")
    for name, value in (("strata", strata), ("stratum_sizes", stratum_sizes), ("bands", bands)):
        if value is not None and kind != "stratified":
            raise DesignError(name, f"only applies to the stratified design, not {kind}")
    if threshold is not None and kind != "uncertainty":
        raise DesignError("threshold", f"only applies to the uncertainty design, not {kind}")
    if rate is not None and kind != "uniform":
        raise DesignError("rate", f"only applies to the uniform design; give a size for {kind}")
    sources = _source_fields(d, kind)
    if kind == "uniform":
        if (rate is None) == (size is None):
            raise DesignError("rate", "give either a rate or a size for the uniform design")
        if rate is not None:
            if not _is_number(rate) or not (0 < float(rate) <= 1):
                raise DesignError("rate", "must be a number in (0, 1]")
            return Design(kind=kind, rate=float(rate))
        return Design(kind=kind, size=_check_size(size, kind))
    if kind == "stratified":
        if size is not None:
            raise DesignError("size", "the stratified design takes stratum_sizes, not a size")
        if strata not in STRATA:
            raise DesignError("strata", f"must be one of {', '.join(STRATA)}")
        if not isinstance(stratum_sizes, dict) or not stratum_sizes:
            raise DesignError("stratum_sizes", "must be a non-empty object of stratum -> size")
        sizes = {}
        for name, value in stratum_sizes.items():
            if not isinstance(name, str) or not name:
                raise DesignError("stratum_sizes", "stratum names must be non-empty strings")
            if not _is_int(value) or value < 0:
                raise DesignError("stratum_sizes", f"size of {name!r} must be a whole number >= 0")
            sizes[name] = int(value)
        if not any(sizes.values()):
            raise DesignError("stratum_sizes", "at least one stratum needs a size above 0")
        edges = DEFAULT_BANDS
        if bands is not None:
            if not isinstance(bands, (list, tuple)) or len(bands) < 2 or not all(_is_number(b) for b in bands):
                raise DesignError("bands", "must be a list of at least 2 numbers")
            edges = tuple(float(b) for b in bands)
            if not all(math.isfinite(b) for b in edges) or any(b >= c for b, c in zip(edges, edges[1:])):
                raise DesignError("bands", "must be finite and strictly increasing")
        if strata == "score_band":
            names = set(band_names(edges)) | {NO_SCORE}
            wrong = sorted(set(sizes) - names)
            if wrong:
                raise DesignError(
                    "stratum_sizes", f"{wrong[0]!r} is not a score band (bands: {', '.join(sorted(names))})"
                )
        return Design(kind=kind, strata=strata, stratum_sizes=sizes, bands=edges)
    size = _check_size(size, kind)
    if sources or kind in _SOURCE_FIELDS:
        return Design(kind=kind, size=size, **sources)
    if kind == "uncertainty" and threshold is not None:
        if not _is_number(threshold) or not (0 <= float(threshold) <= 1):
            raise DesignError("threshold", "must be a number in [0, 1]")
        return Design(kind=kind, size=size, threshold=float(threshold))
    return Design(kind=kind, size=size)


def _whole(value) -> bool:
    return _is_int(value) and value >= 1


def _source_fields(d: dict, kind: str) -> dict:
    """The source fields of the disagreement, audit-flagged and label-error designs, checked."""
    wanted = _SOURCE_FIELDS.get(kind, {})
    for name in ("against", "audit", "batch", "label_column", "positive"):
        if d.get(name) is not None and name not in wanted:
            raise DesignError(name, f"does not apply to the {kind} design")
    out: dict = {}
    for name, required in wanted.items():
        value = d.get(name)
        if value is None:
            if required:
                raise DesignError(name, f"the {kind} design needs it")
            continue
        if name == "against":
            if not isinstance(value, (list, tuple)) or not value or not all(_whole(v) for v in value):
                raise DesignError("against", "must be a non-empty list of version numbers")
            out[name] = tuple(sorted({int(v) for v in value}))
        elif name in ("audit", "batch"):
            if not _whole(value):
                raise DesignError(name, "must be an id (a whole number of at least 1)")
            out[name] = int(value)
        else:
            if not isinstance(value, str) or not value.strip() or len(value) > 200:
                raise DesignError(name, "must be a name of 1 to 200 characters")
            out[name] = value.strip()
    return out


def design_to_dict(design: Design) -> dict:
    """Plain values (JSON-ready) that design_from_dict turns back into the same Design."""
    out: dict = {"kind": design.kind}
    if design.rate is not None:
        out["rate"] = design.rate
    if design.size is not None:
        out["size"] = design.size
    if design.kind == "stratified":
        out["strata"] = design.strata
        out["stratum_sizes"] = dict(design.stratum_sizes or {})
        out["bands"] = list(design.bands)
    if design.threshold is not None:
        out["threshold"] = design.threshold
    for name in ("against", "audit", "batch", "label_column", "positive"):
        value = getattr(design, name)
        if value is not None:
            out[name] = list(value) if name == "against" else value
    return out


def band_names(bands: tuple[float, ...] = DEFAULT_BANDS) -> list[str]:
    """Score band stratum names, e.g. "0-0.2", ..., "0.8-1"; scores outside go to the end bands."""
    return [f"{lo:g}-{hi:g}" for lo, hi in zip(bands, bands[1:])]


# ---------------------------------------------------------------------------------- randomness

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def row_uniforms(ids, seed: int) -> np.ndarray:
    """u in (0, 1] for each id, a function of (seed, id) only."""
    key = _splitmix64(np.array([int(seed) & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))[0]
    x = np.asarray(ids, dtype=np.int64).view(np.uint64) ^ key
    h = _splitmix64(_splitmix64(x))
    return ((h >> np.uint64(11)).astype(np.float64) + 1.0) * (1.0 / 9007199254740992.0)


def uncertainty_weight(scores, threshold: float | None) -> np.ndarray:
    """Weight in [UNCERTAINTY_FLOOR, 1]: 1 at the threshold (or at 0.5 by entropy), NaN scores 1."""
    s = np.asarray(scores, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        if threshold is None:
            p = np.clip(s, 0.0, 1.0)
            closeness = -(p * np.log2(np.where(p > 0, p, 1.0)) + (1 - p) * np.log2(np.where(p < 1, 1 - p, 1.0)))
        else:
            span = max(threshold, 1.0 - threshold) or 1.0
            closeness = 1.0 - np.minimum(np.abs(s - threshold) / span, 1.0)
    closeness = np.where(np.isnan(s), 1.0, closeness)
    return UNCERTAINTY_FLOOR + (1.0 - UNCERTAINTY_FLOOR) * closeness


# ------------------------------------------------------------------------------------ bottom-k


@dataclass
class _BottomK:
    """The k+1 smallest (key, id) pairs seen, plus extra per-row values (the uncertainty weight)."""

    k: int
    keys: np.ndarray = field(default_factory=lambda: np.empty(0))
    ids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    extra: np.ndarray = field(default_factory=lambda: np.empty(0))

    def offer(self, keys: np.ndarray, ids: np.ndarray, extra: np.ndarray | None = None) -> None:
        if self.k <= 0 or not len(keys):
            return
        keep = self.k + 1
        if len(self.keys) >= keep:
            below = keys < self.keys.max()
            keys, ids = keys[below], ids[below]
            extra = extra[below] if extra is not None else None
            if not len(keys):
                return
        extra = extra if extra is not None else np.zeros(len(keys))
        all_keys = np.concatenate([self.keys, keys])
        all_ids = np.concatenate([self.ids, ids])
        all_extra = np.concatenate([self.extra, extra])
        if len(all_keys) > keep:
            # keys are 53-bit uniforms (or their ratios to a weight): ties at the cut are vanishingly rare
            order = np.argpartition(all_keys, keep - 1)[:keep]
            all_keys, all_ids, all_extra = all_keys[order], all_ids[order], all_extra[order]
        self.keys, self.ids, self.extra = all_keys, all_ids, all_extra

    def result(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, float | None]:
        """(keys, ids, extra) of the k smallest in key order, and the (k+1)-th key (None if fewer)."""
        order = np.lexsort((self.ids, self.keys))
        keys, ids, extra = self.keys[order], self.ids[order], self.extra[order]
        if len(keys) > self.k:
            return keys[: self.k], ids[: self.k], extra[: self.k], float(keys[self.k])
        return keys, ids, extra, None


# --------------------------------------------------------------------------------------- draw


def _chunks(chunks) -> Iterable[pd.DataFrame]:
    if callable(chunks) and not isinstance(chunks, pd.DataFrame):
        chunks = chunks()
    if isinstance(chunks, pd.DataFrame):
        return [chunks]
    return chunks


def _require(chunk: pd.DataFrame, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in chunk.columns]
    if missing:
        raise ValueError(f"chunks: missing column {missing[0]!r} (need {', '.join(columns)})")


def _strata_of(chunk: pd.DataFrame, design: Design) -> np.ndarray:
    if design.strata == "predicted_class":
        return chunk["label"].astype(str).to_numpy(dtype=object)
    scores = chunk["score"].to_numpy(dtype=np.float64)
    names = np.array(band_names(design.bands) + [NO_SCORE], dtype=object)
    inner = np.asarray(design.bands[1:-1], dtype=np.float64)
    index = np.searchsorted(inner, scores, side="right")
    index[np.isnan(scores)] = len(names) - 1
    return names[index]


def _items(ids, strata, probabilities, keys) -> pd.DataFrame:
    ids = np.asarray(ids, dtype=np.int64)
    keys = np.asarray(keys, dtype=np.float64)
    order = np.lexsort((ids, keys))
    return pd.DataFrame(
        {
            "id": ids[order],
            "stratum": pd.Series(np.asarray(strata, dtype=object)[order], dtype=object),
            "inclusion_probability": np.asarray(probabilities, dtype=np.float64)[order],
        }
    )


def _forget_unkept(flag_of: dict[int, str], kept: _BottomK | None) -> None:
    """Keep the flags of the current candidates only, so memory stays bounded by the sample size."""
    if kept is not None and len(flag_of) > 4 * (kept.k + 1) + 1024:
        keep = set(kept.ids.tolist())
        for key in [k for k in flag_of if k not in keep]:
            del flag_of[key]


def draw(chunks: Iterable[pd.DataFrame] | Callable[[], Iterable[pd.DataFrame]], design: Design, *, seed: int) -> Sample:
    """Draw `design` from the streamed population; see the module docstring for each design."""
    if not isinstance(design, Design):
        raise TypeError("design must be a Design (see design_from_dict)")
    design = design_from_dict(design_to_dict(design))
    if design.kind == "label_errors":
        from .label_errors import draw_label_errors  # it builds on this module's Sample

        return draw_label_errors(_chunks(chunks), design, seed=seed)
    extra = {"disagreement": ("other_label",), "audit_flagged": ("flag",)}.get(design.kind, ())
    columns = ("id", "score", "label") + extra
    population = 0
    counts: dict[str, int] = {}
    heaps: dict[str, _BottomK] = {}
    bernoulli: list[tuple[np.ndarray, np.ndarray]] = []
    flag_of: dict[int, str] = {}  # audit_flagged: each kept candidate's flag, for its stratum

    def heap(name: str, k: int) -> _BottomK:
        if name not in heaps:
            heaps[name] = _BottomK(k)
        return heaps[name]

    for chunk in _chunks(chunks):
        if not len(chunk):
            continue
        _require(chunk, columns)
        ids = chunk["id"].to_numpy(dtype=np.int64)
        population += len(ids)
        u = row_uniforms(ids, seed)
        if design.kind == "uniform":
            counts[ALL] = counts.get(ALL, 0) + len(ids)
            if design.rate is not None:
                hit = u < design.rate
                bernoulli.append((ids[hit], u[hit]))
            else:
                heap(ALL, design.size).offer(u, ids)
        elif design.kind == "stratified":
            strata = _strata_of(chunk, design)
            codes, uniques = pd.factorize(strata)
            sizes = np.bincount(codes, minlength=len(uniques))
            for code, name in enumerate(uniques):
                counts[name] = counts.get(name, 0) + int(sizes[code])
                k = design.stratum_sizes.get(name, 0)
                if k:
                    mask = codes == code
                    heap(name, k).offer(u[mask], ids[mask])
        elif design.kind == "uncertainty":
            counts[ALL] = counts.get(ALL, 0) + len(ids)
            w = uncertainty_weight(chunk["score"].to_numpy(dtype=np.float64), design.threshold)
            heap(ALL, design.size).offer(u / w, ids, w)
        elif design.kind == "audit_flagged":
            flags = chunk["flag"]
            flagged = flags.notna().to_numpy(dtype=bool)
            counts[FLAGGED] = counts.get(FLAGGED, 0) + int(flagged.sum())
            heap(FLAGGED, design.size).offer(u[flagged], ids[flagged], None)
            names = flags[flagged].astype(str).to_numpy(dtype=object)
            flag_of.update(zip(ids[flagged].tolist(), names.tolist()))
            _forget_unkept(flag_of, heaps.get(FLAGGED))
        else:
            other = chunk["other_label"]
            differs = (other.notna() & (chunk["label"].astype(str) != other.astype(str))).to_numpy(dtype=bool)
            counts[DISAGREEMENT] = counts.get(DISAGREEMENT, 0) + int(differs.sum())
            heap(DISAGREEMENT, design.size).offer(u[differs], ids[differs])

    if design.kind == "uniform" and design.rate is not None:
        ids = np.concatenate([b[0] for b in bernoulli]) if bernoulli else np.empty(0, dtype=np.int64)
        keys = np.concatenate([b[1] for b in bernoulli]) if bernoulli else np.empty(0)
        items = _items(ids, np.full(len(ids), ALL, dtype=object), np.full(len(ids), design.rate), keys)
    else:
        parts = []
        for name, h in heaps.items():
            keys, ids, w, tau = h.result()
            if design.kind == "uncertainty":
                pi = np.ones(len(ids)) if tau is None else np.minimum(1.0, w * tau)
            else:
                pi = np.full(len(ids), min(1.0, len(ids) / counts[name]) if counts.get(name) else 1.0)
            strata = np.full(len(ids), name, dtype=object)
            if design.kind == "audit_flagged":
                strata = np.array([flag_of[int(i)] for i in ids], dtype=object)
            parts.append((ids, strata, pi, keys))
        if parts:
            items = _items(*(np.concatenate([p[i] for p in parts]) for i in range(4)))
        else:
            items = _items([], [], [], [])
    return Sample(items=items, population=population, stratum_population=counts, design=design, seed=int(seed))
