"""PNG pictures of an audit for reviewers: each column of the batch against the model's training
reference, and the null share of every column. Drawn from profiles alone (the JSON format of
docs/audit-profile-format.md), never from the data, so any audit can be redrawn at any time.

Thread-safe by construction, like registry/plots.py: each picture builds its own ``Figure`` (no
pyplot global state) and renders with Agg. Each ``<picture>_png`` renders what ``<picture>_figure``
drew, so tests can read the drawing itself.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402

REFERENCE = "#9aa3b0"
CURRENT = "#1f6feb"
HIGHLIGHT = "#d9480f"
INK = "#444444"
SIZE = (6.4, 3.0)  # one column's picture; the page shows two side by side
WIDE = 8.0  # the null-share picture spans the page
DPI = 110
# Up to 999 fine bins are far too many to read; about this many equal-width bars show the shape.
DISPLAY_BINS = 40
# A categorical column may have up to 1000 values; a reviewer reads the largest few.
TOP_CATEGORIES = 20
# How much longer the right tail must be than the left (from the median) to draw on a log axis.
LOG_SKEW = 5
PLOTTABLE_KINDS = ("numeric", "categorical", "timestamp", "text")


def _figure(width=SIZE[0], height=SIZE[1]) -> tuple[Figure, object]:
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    ax = figure.subplots()
    ax.grid(True, color="#e6e6e6", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8)
    return figure, ax


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    figure.clear()  # drop artists now rather than whenever the garbage collector runs
    return buffer.getvalue()


def _title(ax, text: str) -> None:
    ax.set_title(text, fontsize=10, fontweight="bold", loc="left")


def histogram_figure(reference_column: dict, current_column: dict, name: str) -> Figure:
    """The batch's distribution of one column drawn over the reference's: densities for numbers,
    shares of each value for categories (and words of text), shares of each date format for
    timestamps. Raises ValueError for columns with nothing to draw (ids) or mismatched kinds."""
    kind = (reference_column or {}).get("kind")
    if kind not in PLOTTABLE_KINDS:
        raise ValueError(f"Cannot draw {name!r}: columns of kind {kind!r} have no distribution to picture.")
    if (current_column or {}).get("kind") != kind:
        raise ValueError(
            f"Cannot draw {name!r}: the batch profiled it as {current_column.get('kind')!r}, the reference as {kind!r}."
        )
    if kind == "numeric":
        return _numeric_figure(reference_column, current_column, name)
    if kind == "timestamp":
        return _shares_figure(
            _format_counts(reference_column),
            _format_counts(current_column),
            name,
            what="values, by date format",
            unit="format",
        )
    key = "words" if kind == "text" else "counts"
    return _shares_figure(
        _value_counts(reference_column, key),
        _value_counts(current_column, key),
        name,
        what="words" if kind == "text" else "values",
        unit="value",
    )


def histogram_png(reference_column: dict, current_column: dict, name: str) -> bytes:
    """histogram_figure as PNG bytes."""
    return _png(histogram_figure(reference_column, current_column, name))


# --- numeric ------------------------------------------------------------------------------------


def _fine_bounds(column: dict, edges: np.ndarray) -> np.ndarray:
    """The fine bins' boundaries on one side. The profile's outer bins are open-ended; the side's own
    min and max close them, so a batch pushed past the reference's range is drawn where it is."""
    if edges.size == 0:
        return np.array([column["min"], column["max"]], dtype=float)
    low = min(float(column["min"]), edges[0])
    high = max(float(column["max"]), edges[-1])
    return np.concatenate([[low], edges, [high]])


def _side_bins(column: dict, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One side's bins and counts. The two open-ended outer bins can be wide (a batch that moved
    past the reference's range has all its values in one of them), so their counts are spread by
    the side's own quantiles rather than evenly."""
    bounds, counts = _fine_bounds(column, edges), np.asarray(column["hist"], dtype=float)
    quantiles = column.get("quantiles") or {}
    if edges.size == 0 or not quantiles:
        return bounds, counts
    points = sorted((float(p), float(x)) for p, x in quantiles.items() if x is not None)
    xs = np.maximum.accumulate([float(column["min"]), *(x for _, x in points), float(column["max"])])
    ps = np.array([0.0, *(p for p, _ in points), 1.0])

    def split(low: float, high: float, count: float) -> tuple[list, list]:
        cuts = [low, *(x for x in xs if low < x < high), high]
        mass = np.diff(np.interp(cuts, xs, ps))
        if len(cuts) == 2 or mass.sum() <= 0:
            return [low, high], [count]
        return cuts, list(count * mass / mass.sum())

    head_bounds, head_counts = split(bounds[0], bounds[1], counts[0])
    tail_bounds, tail_counts = split(bounds[-2], bounds[-1], counts[-1])
    return (
        np.concatenate([head_bounds[:-1], bounds[1:-1], tail_bounds[1:]]),
        np.concatenate([head_counts, counts[1:-1], tail_counts]),
    )


def _display_range(reference: dict, current: dict, edges: np.ndarray) -> tuple[float, float]:
    """The x range: both sides' 1st to 99th percentiles where known, so one outlier does not squash
    the picture into a single bar; the mass beyond is counted in the end bars."""
    lows, highs = [], []
    for column in (reference, current):
        quantiles = column.get("quantiles") or {}
        lows.append(quantiles.get("0.01", column["min"]))
        highs.append(quantiles.get("0.99", column["max"]))
    if edges.size:
        lows.append(edges[0])
        highs.append(edges[-1])
    low, high = float(min(lows)), float(max(highs))
    if high <= low:  # a constant column: give its single value some room
        pad = abs(low) * 0.05 or 0.5
        low, high = low - pad, high + pad
    return low, high


def _rebin(bounds: np.ndarray, counts: np.ndarray, display: np.ndarray) -> np.ndarray:
    """Spread each fine bin's count evenly over its width onto the display bins (a fine bin holds
    about 0.1% of the reference, so the evenness assumption cannot show); what lies outside the
    display range goes to the end bars."""
    low, high = display[0], display[-1]
    left = np.clip(bounds[:-1], low, high)
    right = np.clip(bounds[1:], low, high)
    widths = bounds[1:] - bounds[:-1]
    out = np.zeros(display.size - 1)
    overlap = np.clip(
        np.minimum(right[:, None], display[None, 1:]) - np.maximum(left[:, None], display[None, :-1]), 0, None
    )
    spread = widths > 0
    out += (counts[spread, None] * overlap[spread] / widths[spread, None]).sum(axis=0)
    # The part of each fine bin beyond the display range, and the bins with no width (all one value).
    below = np.where(spread, np.clip(low - bounds[:-1], 0, None) / np.where(spread, widths, 1), 0)
    above = np.where(spread, np.clip(bounds[1:] - high, 0, None) / np.where(spread, widths, 1), 0)
    out[0] += (counts * np.minimum(below, 1)).sum()
    out[-1] += (counts * np.minimum(above, 1)).sum()
    for value, count in zip(bounds[:-1][~spread], counts[~spread]):
        out[int(np.clip(np.searchsorted(display, value, side="right") - 1, 0, out.size - 1))] += count
    return out


def _log_axis(reference: dict, low: float, high: float) -> bool:
    """A long right tail of positive values (minutes, attendees, amounts) squeezes the bulk into a
    few bars on a linear axis; on a log axis both stay readable."""
    median = (reference.get("quantiles") or {}).get("0.5")
    return low > 0 and median is not None and median > low and (high - median) / (median - low) > LOG_SKEW


def _numeric_figure(reference: dict, current: dict, name: str) -> Figure:
    edges = np.asarray(reference.get("edges") or [], dtype=float)
    if list(current.get("edges") or []) != list(reference.get("edges") or []):
        raise ValueError(f"Cannot draw {name!r}: the batch was not profiled on the reference's bin edges.")
    figure, ax = _figure()
    ref_n, cur_n = int(reference.get("count") or 0), int(current.get("count") or 0)
    if ref_n and cur_n:
        low, high = _display_range(reference, current, edges)
        log = _log_axis(reference, low, high)
        display = np.geomspace(low, high, DISPLAY_BINS + 1) if log else np.linspace(low, high, DISPLAY_BINS + 1)
        # Density per unit of the axis as drawn, so equal areas hold equal shares on either scale.
        widths = np.diff(np.log10(display)) if log else np.diff(display)
        # The reference as a grey silhouette, the batch as a line over it: both stay visible.
        for column, total, label, style in (
            (reference, ref_n, "Training reference", {"fill": True, "color": REFERENCE, "alpha": 0.8}),
            (current, cur_n, "This batch", {"color": CURRENT, "linewidth": 1.8}),
        ):
            counts = _rebin(*_side_bins(column, edges), display)
            ax.stairs(counts / (total * widths), display, label=f"{label} ({total:,} values)", **style)
        if log:
            ax.set_xscale("log")
        ax.set_xlim(low, high)
        ax.set_ylim(bottom=0)
        ax.set_ylabel("Density per log₁₀ unit" if log else "Density", fontsize=9)
        ax.legend(loc="best", fontsize=7.5, framealpha=0.9)
        scale = ", log scale" if log else ""
        ax.set_xlabel(f"{name}  (values beyond the axis are counted in the end bars{scale})", fontsize=8.5)
    else:
        _nothing(ax, "reference" if not ref_n else "batch")
    _title(ax, name)
    return figure


def _nothing(ax, side: str) -> None:
    ax.text(
        0.5,
        0.5,
        f"No values in the {side} to compare",
        ha="center",
        va="center",
        transform=ax.transAxes,
        fontsize=10,
        color=INK,
    )
    ax.set_xticks([])
    ax.set_yticks([])


# --- shares of values ---------------------------------------------------------------------------


def _value_counts(column: dict, key: str) -> dict[str, int]:
    counts = {str(value): int(count) for value, count in (column.get(key) or {}).items() if count}
    if column.get("other"):
        counts["(other)"] = counts.get("(other)", 0) + int(column["other"])
    return counts


def _format_counts(column: dict) -> dict[str, int]:
    counts = {str(fmt): int(count) for fmt, count in (column.get("formats") or {}).items() if count}
    if column.get("unparseable"):
        counts["unparseable"] = int(column["unparseable"])
    return counts


def _shares_figure(reference: dict[str, int], current: dict[str, int], name: str, *, what: str, unit: str) -> Figure:
    """Grouped horizontal bars of each value's share, biggest first. A value the reference never had
    is drawn (and labelled) in orange: a new category or a new date format is often the story."""
    ref_total, cur_total = sum(reference.values()), sum(current.values())
    ref_share = {k: v / ref_total for k, v in reference.items()} if ref_total else {}
    cur_share = {k: v / cur_total for k, v in current.items()} if cur_total else {}
    values = sorted(set(ref_share) | set(cur_share), key=lambda v: (-max(ref_share.get(v, 0), cur_share.get(v, 0)), v))
    shown = values[:TOP_CATEGORIES]
    figure, ax = _figure(height=max(SIZE[1], 0.34 * len(shown) + 1.3))
    if not shown:
        _nothing(ax, "reference" if not ref_total else "batch")
        _title(ax, name)
        return figure
    positions = np.arange(len(shown))
    new = [value not in reference for value in shown]
    bar = 0.4
    ax.barh(positions - bar / 2, [ref_share.get(v, 0) for v in shown], height=bar, color=REFERENCE)
    ax.barh(
        positions + bar / 2,
        [cur_share.get(v, 0) for v in shown],
        height=bar,
        color=[HIGHLIGHT if is_new else CURRENT for is_new in new],
    )
    labels = [_share_label(v, is_new, v not in current) for v, is_new in zip(shown, new)]
    ax.set_yticks(positions, labels, fontsize=8)
    for label, is_new in zip(ax.get_yticklabels(), new):
        if is_new:
            label.set_color(HIGHLIGHT)
            label.set_fontweight("bold")
    ax.invert_yaxis()  # the biggest on top
    ax.grid(False, axis="y")
    top = max(max(ref_share.get(v, 0), cur_share.get(v, 0)) for v in shown)
    ax.set_xlim(0, min(1.0, top * 1.18) or 1.0)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    for position, value in zip(positions, shown):
        share = cur_share.get(value, 0)
        ax.text(share, position + bar / 2, f" {100 * share:.1f}%", va="center", fontsize=7, color=INK)
    handles = [
        Patch(color=REFERENCE, label=f"Training reference ({ref_total:,})"),
        Patch(color=CURRENT, label=f"This batch ({cur_total:,})"),
    ]
    if any(new):
        handles.append(Patch(color=HIGHLIGHT, label=f"New {unit} (not in the reference)"))
    ax.legend(handles=handles, loc="best", fontsize=7.5, framealpha=0.9)
    more = f" (top {len(shown)} of {len(values)})" if len(values) > len(shown) else ""
    ax.set_xlabel(f"Share of non-null {what}{more}", fontsize=8.5)
    _title(ax, name)
    return figure


def _share_label(value: str, is_new: bool, missing: bool) -> str:
    shown = value if len(value) <= 28 else value[:27] + "…"
    if is_new:
        return f"{shown}  (new)"
    if missing:
        return f"{shown}  (absent)"
    return shown


# --- nulls --------------------------------------------------------------------------------------


def null_share(profile: dict | None, column: str) -> float | None:
    """The share of a profile's rows where the column is null; None when the column is absent."""
    entry = ((profile or {}).get("columns") or {}).get(column)
    rows = (profile or {}).get("rows") or 0
    if entry is None or not rows:
        return None
    return int(entry.get("nulls") or 0) / rows


def null_rates_figure(reference_profile: dict, current_profile: dict) -> Figure:
    """Null share per column, reference against this batch, as horizontal bars; the columns whose
    share grew most come first, and a column the batch lacks altogether is labelled so."""
    names = list((reference_profile.get("columns") or {}).keys())
    names += [n for n in (current_profile.get("columns") or {}) if n not in names]
    if not names:
        raise ValueError("Cannot draw null rates: the profiles have no columns.")
    rows = [(name, null_share(reference_profile, name), null_share(current_profile, name)) for name in names]
    # Biggest increase first; a column missing from the batch sorts last (it has its own finding).
    rows.sort(key=lambda r: (r[2] is None, -((r[2] or 0) - (r[1] or 0)), r[0]))
    figure, ax = _figure(width=WIDE, height=max(2.2, 0.3 * len(rows) + 1.2))
    positions = np.arange(len(rows))
    bar = 0.4
    ax.barh(positions - bar / 2, [r[1] or 0 for r in rows], height=bar, color=REFERENCE)
    ax.barh(positions + bar / 2, [r[2] or 0 for r in rows], height=bar, color=CURRENT)
    ax.set_yticks(
        positions, [name if current is not None else f"{name}  (not in batch)" for name, _, current in rows], fontsize=8
    )
    ax.invert_yaxis()
    ax.grid(False, axis="y")
    top = max([max(r[1] or 0, r[2] or 0) for r in rows])
    ax.set_xlim(0, min(1.0, max(top * 1.25, 0.05)))
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0 if top >= 0.05 else 1))
    for position, (_, _, current) in zip(positions, rows):
        if current is not None:
            ax.text(current, position + bar / 2, f" {_percent(current)}", va="center", fontsize=7, color=INK)
    if top == 0:
        ax.text(
            0.5,
            0.5,
            "No column has nulls, in the reference or in this batch",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=9,
            color=INK,
        )
    ax.legend(
        handles=[Patch(color=REFERENCE, label="Training reference"), Patch(color=CURRENT, label="This batch")],
        loc="lower right",
        fontsize=7.5,
        framealpha=0.9,
    )
    ax.set_xlabel("Share of rows that are null", fontsize=8.5)
    _title(ax, "Null share per column (largest increase first)")
    return figure


def null_rates_png(reference_profile: dict, current_profile: dict) -> bytes:
    """null_rates_figure as PNG bytes."""
    return _png(null_rates_figure(reference_profile, current_profile))


def _percent(share: float) -> str:
    if share == 0:
        return "0%"
    if share < 0.001:
        return "<0.1%"
    return f"{100 * share:.1f}%" if share < 0.1 else f"{100 * share:.0f}%"


def plottable(column: dict | None) -> bool:
    return bool(column) and column.get("kind") in PLOTTABLE_KINDS


# --- relabelling: the live accuracy across campaigns ------------------------------------------


def relabel_trend_figure(points: list[dict], *, minimum: float | None = None, title: str = "") -> Figure:
    """Live accuracy per campaign (oldest left; one series per version, with its 95% interval as an
    error bar) and beside each the version's offline hold-out accuracy (hollow diamond), with the
    policy's minimum as a dashed line. `points` are selectors.model_estimate_trend's."""
    figure, ax = _figure(WIDE, 3.2)
    _title(ax, title or "Live accuracy from relabelling, with the hold-out accuracy of the same version")
    if not points:
        ax.text(0.5, 0.5, "No estimate stored yet", ha="center", va="center", transform=ax.transAxes, color=INK)
        ax.set_xticks([])
        ax.set_yticks([])
        return figure
    x = np.arange(len(points))
    colours = matplotlib.colormaps["tab10"]
    versions = sorted({p["version"] for p in points}, key=lambda v: (v is None, v or 0))
    for index, version in enumerate(versions):
        at = [i for i, p in enumerate(points) if p["version"] == version]
        value = np.array([points[i]["accuracy"] for i in at])
        low = np.array([points[i]["low"] for i in at])
        high = np.array([points[i]["high"] for i in at])
        colour = colours(index % 10)
        name = f"v{version}" if version is not None else "all versions"
        ax.errorbar(
            at, value, yerr=[value - low, high - value], fmt="o-", color=colour, capsize=3, label=f"{name} live"
        )
        holdout = [(i, points[i]["holdout"]) for i in at if points[i]["holdout"] is not None]
        if holdout:
            ax.scatter(
                [i + 0.12 for i, _ in holdout],
                [h for _, h in holdout],
                marker="D",
                facecolors="none",
                edgecolors=colour,
                label=f"{name} hold-out",
            )
    if minimum is not None:
        ax.axhline(minimum, color=HIGHLIGHT, linestyle="--", linewidth=1, label=f"minimum {minimum:.2f}")
    ax.set_xticks(x, [p["campaign"][:18] for p in points], rotation=20, ha="right")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("accuracy", fontsize=8, color=INK)
    ax.legend(fontsize=7, frameon=False, loc="lower left")
    return figure


def relabel_trend_png(points: list[dict], *, minimum: float | None = None) -> bytes:
    """relabel_trend_figure as PNG bytes."""
    return _png(relabel_trend_figure(points, minimum=minimum))
