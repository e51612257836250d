"""A SHAP-style waterfall of one explanation (the dict ``support.shap_engine.explain`` returns).

Drawn with matplotlib's object API (``matplotlib.figure.Figure``, rendered by Agg on save) rather
than ``shap.plots.waterfall``, which draws on pyplot's global current figure: pyplot state is shared
by every thread of a web or Celery worker, and shap's plot shows or leaves figures open. A Figure
built here is owned by the call, needs no display and is never registered with pyplot.

Reading the plot bottom-up, as shap's does: the base value (the average score over the background),
then one bar per feature from the smallest shown contribution to the largest, red where the feature
raised the score and blue where it lowered it, ending at the score at the top.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from matplotlib.figure import Figure

RAISES = "#ff0051"  # shap's red
LOWERS = "#008bfb"  # shap's blue
GUIDE = "#888888"
THRESHOLD = "#444444"
DPI = 110
WIDTH = 8.0
MAX_LABEL = 42


@dataclass(frozen=True)
class WaterfallBar:
    label: str  # "plan = free", or "3 other features"
    start: float
    end: float

    @property
    def shap(self) -> float:
        return self.end - self.start

    @property
    def colour(self) -> str:
        return RAISES if self.shap > 0 else LOWERS


def _clip(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _number(value: float) -> str:
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 0.01 or size == 0:
        return f"{value:.3f}" if size < 1 else f"{value:.2f}"
    return f"{value:.2g}"


def _signed(value: float) -> str:
    text = _number(abs(value))
    return ("+" if value > 0 else "−" if value < 0 else "±") + text


def _logit(p: float) -> float:
    p = min(max(p, 1e-300), 1 - 1e-16)
    return math.log(p) - math.log1p(-p)


def waterfall_bars(explanation: dict, *, max_features: int = 8) -> list[WaterfallBar]:
    """The bars as drawn, TOP to bottom: the largest contributions first, then (when there are more
    than ``max_features``) one bar summing the rest. The bottom bar starts at the base value; the top
    bar ends at base + sum of all contributions (the score in the explanation's units)."""
    if max_features < 1:
        raise ValueError("max_features must be at least 1.")
    contributions = sorted(explanation.get("contributions") or [], key=lambda item: -abs(item["shap"]))
    if not contributions:
        raise ValueError("The explanation has no contributions to draw.")
    if len(contributions) > max_features:
        shown, rest = contributions[: max_features - 1], contributions[max_features - 1 :]
    else:
        shown, rest = contributions, []
    rows = [(_clip(f"{item['feature']} = {item['value']}"), float(item["shap"])) for item in shown]
    if rest:
        rows.append((f"{len(rest)} other feature{'s' if len(rest) > 1 else ''}", sum(float(i["shap"]) for i in rest)))
    bars, position = [], float(explanation["base_value"])
    for label, value in reversed(rows):  # accumulate bottom-up
        bars.append(WaterfallBar(label, position, position + value))
        position += value
    return bars[::-1]


def waterfall_figure(explanation: dict, *, max_features: int = 8) -> Figure:
    bars = waterfall_bars(explanation, max_features=max_features)
    units = explanation.get("units", "")
    base = float(explanation["base_value"])
    end = bars[0].end
    n = len(bars)
    figure = Figure(figsize=(WIDTH, 1.5 + 0.42 * n), dpi=DPI, layout="constrained")
    ax = figure.subplots()
    ys = list(range(n - 1, -1, -1))  # top bar drawn highest
    ax.barh(
        ys,
        [bar.shap for bar in bars],
        left=[bar.start for bar in bars],
        color=[bar.colour for bar in bars],
        height=0.62,
        edgecolor="none",
    )
    ax.set_yticks(ys, [bar.label for bar in bars], fontsize=9)
    ax.set_ylim(-1.1, n - 0.1)

    xs = [base, end] + [bar.start for bar in bars] + [bar.end for bar in bars]
    low, high = min(xs), max(xs)
    span = (high - low) or max(abs(high), 1.0) * 0.1
    ax.set_xlim(low - 0.18 * span, high + 0.18 * span)
    for y, bar in zip(ys, bars):
        left = bar.shap < 0
        ax.text(
            bar.end - 0.01 * span if left else bar.end + 0.01 * span,
            y,
            _signed(bar.shap),
            va="center",
            ha="right" if left else "left",
            fontsize=8,
            color=bar.colour,
        )
    # Connectors between consecutive bars, as in shap's waterfall.
    for y, bar in zip(ys[:-1], bars[:-1]):
        ax.plot([bar.start, bar.start], [y - 0.31, y - 1 + 0.31], color=GUIDE, linewidth=0.7)

    unit_note = " (log-odds)" if units == "log-odds" else ""
    ax.axvline(base, color=GUIDE, linewidth=0.8, linestyle="--", zorder=0)
    ax.text(base, -0.75, f"base value {_number(base)}{unit_note}", ha="center", va="top", fontsize=8, color=GUIDE)
    ax.axvline(end, color=GUIDE, linewidth=0.8, linestyle="--", zorder=0)
    score_note = f"score {_number(float(explanation.get('score', end)))}"
    if units == "log-odds":
        score_note += f" (log-odds {_number(end)})"
    ax.set_title(score_note, fontsize=10, loc="center")
    threshold = explanation.get("threshold")
    if threshold is not None and explanation.get("task_type") == "binary_classification":
        line = float(threshold) if units == "probability" else _logit(float(threshold))
        if low - 0.18 * span <= line <= high + 0.18 * span:
            ax.axvline(line, color=THRESHOLD, linewidth=0.9, linestyle=":", zorder=0)
            ax.text(
                line,
                n - 0.35,
                f" threshold {_number(float(threshold))}",
                fontsize=8,
                color=THRESHOLD,
                va="bottom",
                ha="left",
            )
    label = {"probability": "probability", "log-odds": "log-odds", "value": "prediction"}.get(units, units)
    ax.set_xlabel(f"contribution to the {label}", fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    return figure


def _render(figure: Figure, fmt: str) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=DPI, facecolor="white")
    figure.clear()  # drop artists now rather than whenever the garbage collector runs
    return buffer.getvalue()


def waterfall_png(explanation: dict, *, max_features: int = 8) -> bytes:
    return _render(waterfall_figure(explanation, max_features=max_features), "png")


def waterfall_svg(explanation: dict, *, max_features: int = 8) -> bytes:
    return _render(waterfall_figure(explanation, max_features=max_features), "svg")
