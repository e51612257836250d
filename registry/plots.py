"""PNG plots of promotion-gate evidence for reviewers, drawn from the JSON that
registry/evaluation/ produced (never from the models, so a plot can be redrawn at any time).

Thread-safe by construction: each plot builds its own ``matplotlib.figure.Figure`` (no pyplot
global state, which is shared across threads of a web or Celery worker) and renders with Agg.
Each ``<plot>_png`` renders what ``<plot>_figure`` drew, so tests can read the drawing itself.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402  (after selecting the backend)
from matplotlib.patches import Patch  # noqa: E402

CANDIDATE = "#1f6feb"
PRODUCTION = "#7f7f7f"
BASELINE = "#444444"
HIGHLIGHT = "#d9480f"
SIZE = (8.0, 3.5)
DPI = 110


def _figure(width=SIZE[0], height=SIZE[1], columns=1) -> tuple[Figure, list]:
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    axes = figure.subplots(1, columns, squeeze=False)[0]
    for ax in axes:
        ax.grid(True, color="#e6e6e6", linewidth=0.8)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.tick_params(labelsize=8)
    return figure, list(axes)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    figure.clear()  # drop artists now rather than whenever the garbage collector runs
    return buffer.getvalue()


def _require(evidence: dict, key: str, what: str):
    part = (evidence or {}).get(key)
    if not part:
        raise ValueError(f"Cannot draw {what}: the evidence has no {key!r} (was it computed for this task type?).")
    return part


# --------------------------------------------------------------------------------------------
# ROC and precision-recall


def curves_figure(evidence: dict) -> Figure:
    """ROC (left) and precision-recall (right) of the candidate, with production when present and
    the naive baseline (ROC diagonal, PR prevalence line) dashed — binary tasks only."""
    curves = _require(evidence, "curves", "ROC/PR curves")
    if not curves.get("candidate"):
        raise ValueError("Cannot draw ROC/PR curves: evidence['curves'] has no 'candidate' curve points.")
    figure, (roc, pr) = _figure(columns=2)
    models = [("Candidate", curves["candidate"], CANDIDATE, 2.0)]
    if curves.get("production"):
        models.append(("Production", curves["production"], PRODUCTION, 1.6))
    for order, (label, points, colour, width) in enumerate(models):
        style = {"color": colour, "linewidth": width, "zorder": 3 - order}  # candidate drawn on top
        roc.plot(points["roc"]["fpr"], points["roc"]["tpr"], label=f"{label} (AUC {points['roc']['auc']:.3f})", **style)
        pr.plot(
            points["pr"]["recall"],
            points["pr"]["precision"],
            drawstyle="steps-post",
            label=f"{label} (AP {points['pr']['average_precision']:.3f})",
            **style,
        )
    roc.plot([0, 1], [0, 1], linestyle="--", color=BASELINE, linewidth=1, label="Naive baseline (AUC 0.500)")
    prevalence = curves["candidate"]["pr"]["prevalence"]
    pr.axhline(prevalence, linestyle="--", color=BASELINE, linewidth=1, label=f"Naive baseline (AP {prevalence:.3f})")
    _style(roc, "ROC curve", "False positive rate", "True positive rate", "lower right")
    _style(pr, "Precision–recall curve", "Recall", "Precision", "upper right")
    return figure


def curves_png(evidence: dict) -> bytes:
    """The ROC and precision-recall figure as PNG bytes."""
    return _png(curves_figure(evidence))


def _style(ax, title, xlabel, ylabel, legend_at) -> None:
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=10, fontweight="bold")
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.legend(loc=legend_at, fontsize=7.5, frameon=True, framealpha=0.9)


# --------------------------------------------------------------------------------------------
# score changes


def prediction_diff_figure(evidence: dict) -> Figure:
    """Histogram of per-row score change (candidate − production) with a zero line; the title
    carries the flip rate, the box the summary numbers a reviewer would otherwise look up."""
    diff = _require(evidence, "prediction_diff", "the prediction diff")
    histogram = diff.get("histogram") or {}
    edges, counts = histogram.get("edges"), histogram.get("counts")
    if not edges or not counts or len(edges) != len(counts) + 1:
        raise ValueError("Cannot draw the prediction diff: its histogram needs 'edges' (one more than) 'counts'.")
    figure, (ax,) = _figure()
    widths = [right - left for left, right in zip(edges[:-1], edges[1:])]
    ax.bar(
        edges[:-1], counts, width=widths, align="edge", color=CANDIDATE, alpha=0.85, edgecolor="white", linewidth=0.4
    )
    ax.axvline(0, color=BASELINE, linestyle="--", linewidth=1, label="No change")
    ax.set_xlim(edges[0], edges[-1])
    ax.set_title(_diff_title(diff), fontsize=10, fontweight="bold")
    ax.set_xlabel("Score change per row (candidate − production)", fontsize=9)
    ax.set_ylabel("Rows", fontsize=9)
    ax.legend(loc="upper left", fontsize=7.5)
    ax.text(
        0.99,
        0.97,
        _diff_summary(diff),
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=7.5,
        family="monospace",
        bbox={"boxstyle": "round,pad=0.4", "facecolor": "white", "edgecolor": "#cccccc"},
    )
    return figure


def prediction_diff_png(evidence: dict) -> bytes:
    """The prediction-diff figure as PNG bytes."""
    return _png(prediction_diff_figure(evidence))


def _diff_title(diff: dict) -> str:
    rows = diff.get("rows")
    head = f"Prediction changes on {rows:,} rows" if isinstance(rows, int) else "Prediction changes"
    rate = diff.get("flip_rate")
    if rate is None:
        return head
    moves = ""
    if diff.get("flips_up") is not None:
        moves = f" ({diff['flips_up']:,} no→yes, {diff['flips_down']:,} yes→no)"
    return f"{head} — decision flips {100 * rate:.1f}%{moves}"


def _diff_summary(diff: dict) -> str:
    lines = [
        ("mean Δ", "mean_change", "+.4f"),
        ("mean |Δ|", "mean_abs_change", ".4f"),
        ("p95 |Δ|", "p95_abs_change", ".4f"),
        ("max |Δ|", "max_abs_change", ".4f"),
        ("rank shift", "mean_rank_shift", ".2f"),
    ]
    return "\n".join(
        f"{label:<10} {format(diff[key], spec):>8}" for label, key, spec in lines if diff.get(key) is not None
    )


# --------------------------------------------------------------------------------------------
# feature importance


def importance_figure(evidence: dict) -> Figure:
    """Horizontal bars of permutation importance now (blue) vs the previous version (grey);
    features that jumped — a possible leak — are drawn in orange with a marked label."""
    features = _require(evidence, "importance", "feature importance")
    now = [f.get("importance") or 0.0 for f in features]
    before = [f.get("previous") for f in features]
    has_previous = any(value is not None for value in before)
    names = [_importance_label(f, has_previous) for f in features]
    figure, (ax,) = _figure(height=max(SIZE[1], 0.34 * len(features) + 1.3))
    positions = range(len(features))
    bar = 0.38 if has_previous else 0.6
    offset = bar / 2 if has_previous else 0.0
    colours = [HIGHLIGHT if f.get("jumped") else CANDIDATE for f in features]
    errors = [f.get("std") or 0.0 for f in features]
    ax.barh(
        [p - offset for p in positions],
        now,
        height=bar,
        color=colours,
        xerr=errors,
        error_kw={"elinewidth": 0.8, "ecolor": "#333333", "capsize": 2},
    )
    if has_previous:
        ax.barh([p + offset for p in positions], [value or 0.0 for value in before], height=bar, color=PRODUCTION)
    ax.set_yticks(list(positions), names, fontsize=8)
    for label, feature in zip(ax.get_yticklabels(), features):
        if feature.get("jumped"):
            label.set_color(HIGHLIGHT)
            label.set_fontweight("bold")
    ax.invert_yaxis()  # most important on top
    ax.axvline(0, color=BASELINE, linewidth=0.8)
    ax.grid(False, axis="y")
    ax.set_xlabel("Permutation importance (drop in score when the feature is shuffled)", fontsize=9)
    ax.set_title("Feature importance — candidate vs previous version", fontsize=10, fontweight="bold")
    ax.legend(
        handles=_importance_legend(has_previous, any(f.get("jumped") for f in features)), loc="best", fontsize=7.5
    )
    return figure


def importance_png(evidence: dict) -> bytes:
    """The feature-importance figure as PNG bytes."""
    return _png(importance_figure(evidence))


def _importance_label(feature: dict, has_previous: bool) -> str:
    if feature.get("jumped"):
        return f"{feature['feature']}  ▲ jumped"
    if has_previous and feature.get("previous") is None:
        return f"{feature['feature']} (new)"
    return feature["feature"]


def _importance_legend(has_previous: bool, any_jumped: bool) -> list[Patch]:
    handles = [Patch(color=CANDIDATE, label="Candidate")]
    if has_previous:
        handles.append(Patch(color=PRODUCTION, label="Previous version"))
    if any_jumped:
        handles.append(Patch(color=HIGHLIGHT, label="Jumped (check for a leak)"))
    return handles
