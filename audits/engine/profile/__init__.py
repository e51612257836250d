"""Profiles: mergeable, JSON-safe summaries of a data file (docs/audit-profile-format.md is the contract).

Pure Python, vectorised with numpy/pandas; no Django. The modules: `kinds` (each kind of column
summarised), `edges` (bin edges and quantile sketches), `kept`
(the values a column keeps for exact drift statistics, kept out of the JSON), `frames` (a frame's profile), `merge` (two
profiles into one) and `reference` (a reference too large for memory, profiled in chunks).

How each kind is summarised
---------------------------
numeric      Values are coerced with pd.to_numeric(errors="coerce"). Nulls are NaN/None (and blank strings);
             a non-null value that does not parse as a number is `non_numeric`, one that parses as
             +/-inf (or NaN spelled in a string cell) is `non_finite`; neither is in `count`. `extreme`
             counts values in `count` of magnitude EXTREME_MAGNITUDE (1e100) or more. Moments of values
             up to the float limit are computed on values scaled by the largest, so nothing overflows;
             an `m2` beyond the float range is stored as None with its reason in `null_reasons`.
             Histograms use the REFERENCE's edges: bin i holds x with
             edges[i-1] < x <= edges[i] (np.searchsorted(edges, x, side="left")), np.bincount per chunk.
             Moments (`mean`, `m2` = sum of squared deviations) are computed per chunk with numpy and
             combined with Chan's parallel formula. `quantiles` always come from the KLL sketch
             (datasketches kll_doubles_sketch, k=200; normalised rank error ~1.3%) so a single profile and
             a merged one are computed the same way.
categorical  value_counts of the values as strings (ints as "1"; floats as "1.0"); at most CAPACITY
             values kept, the rest added to `other`. Ties at the cut are broken by the value, so the
             result is deterministic. Merging adds the counts and folds again (exact unless more than
             CAPACITY distinct values occur in total).
timestamp    See `_profile_timestamp`. `count` is the number of values that parsed (like numeric),
             `unparseable` those that did not, so rows = count + nulls + unparseable. Columns that are
             already datetimes (e.g. parquet timestamps) have no string format: `formats` stays {}.
             Time-zone-aware values are converted to UTC and compared as naive UTC; `now` likewise.
text         lengths over non-null values; `empty` = blank after stripping; words = lower-cased \\w+
             tokens, top TOP_WORDS kept (merging keeps the top TOP_WORDS of the sum: approximate in the
             tail).
id           `duplicates` = rows whose id appeared earlier IN THIS FRAME. merge_profiles adds them, which
             is a lower bound for the whole file; sources.profile_source tracks ids across its chunks
             and sources.duplicate_ids gives the exact figure for a file.

Bin edges
---------
`reference_edges` computes edges from exact quantiles of an in-memory column; for a column with at most
FINE_BINS-1 (999) distinct values the fine edges are the distinct values themselves (and, with at most
PSI_BINS-1 (9), so are the PSI edges), so every bin holds exactly one value; the last bin
(> max) is then empty in the reference and catches larger values in a batch.
`profile_reference_chunks` profiles a reference too large for memory in two passes: pass 1 feeds every
numeric value into a KLL sketch (and collects distinct values while there are at most 999) to choose the
edges; pass 2 profiles each chunk on those edges and merges. Edges from a sketch are within its rank
error of the exact quantiles, which is all edges need. A reference that turns out to be a single chunk
is profiled with exact edges.
"""

from .edges import *  # noqa: F401,F403
from .frames import *  # noqa: F401,F403
from .kept import *  # noqa: F401,F403
from .kinds import *  # noqa: F401,F403
from .merge import *  # noqa: F401,F403
from .reference import *  # noqa: F401,F403
