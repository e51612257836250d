"""support/plots.py draws the waterfall of an explanation headless, bar for bar."""

import io
import math
import threading
from pathlib import Path

import pytest
from matplotlib.colors import to_hex
from matplotlib.image import imread

from support import plots

PNG = b"\x89PNG\r\n\x1a\n"


def _explanation(contributions, *, base=0.15, units="probability", threshold=0.3):
    score = base + sum(shap for _, _, shap in contributions)
    return {
        "method": "tree",
        "task_type": "binary_classification",
        "score": score,
        "decision": "no",
        "threshold": threshold,
        "base_value": base,
        "units": units,
        "contributions": sorted(
            ({"feature": f, "value": v, "shap": s} for f, v, s in contributions), key=lambda item: -abs(item["shap"])
        ),
        "reasons": [],
    }


FIVE = _explanation(
    [
        ("plan", "free", -0.12),
        ("meeting_minutes", "91.6", 0.31),
        ("country", "US", 0.02),
        ("event_type", "meetup", -0.05),
        ("attendees", "21", 0.004),
    ]
)


def test_png_is_a_real_image():
    data = plots.waterfall_png(FIVE)
    assert data.startswith(PNG)
    Path("/tmp/keel-explain-waterfall.png").write_bytes(data)  # for a human look; not asserted on
    image = imread(io.BytesIO(data))
    assert image.shape[1] == pytest.approx(plots.WIDTH * plots.DPI, abs=2)
    assert image[..., :3].std() > 0.05  # something was drawn


def test_svg_is_cheap_too():
    data = plots.waterfall_svg(FIVE)
    assert data.lstrip().startswith(b"<?xml") and b"<svg" in data


def test_one_bar_per_feature_largest_on_top():
    bars = plots.waterfall_bars(FIVE)
    assert [bar.label for bar in bars] == [
        "meeting_minutes = 91.6",
        "plan = free",
        "event_type = meetup",
        "country = US",
        "attendees = 21",
    ]
    figure = plots.waterfall_figure(FIVE)
    ax = figure.axes[0]
    assert len(ax.patches) == 5
    assert [tick.get_text() for tick in ax.get_yticklabels()] == [bar.label for bar in bars]


def test_bars_run_from_the_base_value_to_the_score():
    bars = plots.waterfall_bars(FIVE)
    assert bars[-1].start == pytest.approx(FIVE["base_value"])  # bottom bar starts at the base
    assert bars[0].end == pytest.approx(FIVE["score"])  # top bar ends at the score
    for upper, lower in zip(bars, bars[1:]):
        assert upper.start == pytest.approx(lower.end)  # each bar starts where the one below ended


def _vertical_lines(ax, colour: str) -> list[float]:
    """x of each full-height vertical line drawn in `colour` (axvline: the same x twice)."""
    return [
        line.get_xdata()[0]
        for line in ax.get_lines()
        if to_hex(line.get_color()) == colour
        and line.get_xdata()[0] == line.get_xdata()[1]
        and list(line.get_ydata()) == [0, 1]
    ]


def test_each_drawn_bar_runs_from_its_start_by_its_contribution():
    bars = plots.waterfall_bars(FIVE)
    ax = plots.waterfall_figure(FIVE).axes[0]
    assert [patch.get_x() for patch in ax.patches] == pytest.approx([bar.start for bar in bars])
    assert [patch.get_width() for patch in ax.patches] == pytest.approx([bar.shap for bar in bars])
    assert [patch.get_y() + patch.get_height() / 2 for patch in ax.patches] == pytest.approx([4, 3, 2, 1, 0])


def test_base_value_score_and_threshold_are_marked_where_they_are():
    ax = plots.waterfall_figure(FIVE).axes[0]
    assert _vertical_lines(ax, plots.GUIDE) == pytest.approx([FIVE["base_value"], FIVE["score"]])
    assert _vertical_lines(ax, plots.THRESHOLD) == pytest.approx([FIVE["threshold"]])
    assert ax.get_title() == f"score {FIVE['score']:.3f}"
    assert "base value 0.150" in [text.get_text() for text in ax.texts]


def test_red_raises_blue_lowers():
    bars = {bar.label: bar for bar in plots.waterfall_bars(FIVE)}
    assert bars["meeting_minutes = 91.6"].colour == plots.RAISES
    assert bars["plan = free"].colour == plots.LOWERS
    ax = plots.waterfall_figure(FIVE).axes[0]
    drawn = {tick.get_text(): patch.get_facecolor() for tick, patch in zip(ax.get_yticklabels(), ax.patches)}
    from matplotlib.colors import to_rgba

    assert drawn["plan = free"] == pytest.approx(to_rgba(plots.LOWERS))
    assert drawn["meeting_minutes = 91.6"] == pytest.approx(to_rgba(plots.RAISES))


def test_the_smallest_features_are_folded_into_one_bar():
    bars = plots.waterfall_bars(FIVE, max_features=3)
    assert [bar.label for bar in bars] == ["meeting_minutes = 91.6", "plan = free", "3 other features"]
    assert bars[-1].shap == pytest.approx(-0.05 + 0.02 + 0.004)
    assert bars[0].end == pytest.approx(FIVE["score"])
    assert len(plots.waterfall_figure(FIVE, max_features=3).axes[0].patches) == 3
    assert plots.waterfall_png(FIVE, max_features=3).startswith(PNG)


def test_log_odds_and_long_values_are_drawn():
    explanation = _explanation(
        [("note", "x" * 80, 0.4), ("plan", "free", -1.1)], base=-2.3, units="log-odds", threshold=0.05
    )
    bars = plots.waterfall_bars(explanation)
    assert len(bars[-1].label) <= plots.MAX_LABEL and bars[-1].label.endswith("…")
    ax = plots.waterfall_figure(explanation).axes[0]
    assert [tick.get_text() for tick in ax.get_yticklabels()] == [bar.label for bar in bars]
    assert "log-odds" in ax.get_title() and ax.get_xlabel() == "contribution to the log-odds"
    # The threshold is a probability: on a log-odds axis it is drawn at its logit.
    assert _vertical_lines(ax, plots.THRESHOLD) == pytest.approx([math.log(0.05 / 0.95)])
    assert plots.waterfall_png(explanation).startswith(PNG)


def test_nothing_to_draw_is_refused():
    with pytest.raises(ValueError, match="no contributions"):
        plots.waterfall_png({**FIVE, "contributions": []})
    with pytest.raises(ValueError, match="max_features"):
        plots.waterfall_bars(FIVE, max_features=0)


def test_threads_draw_side_by_side():
    """No pyplot state: figures drawn at once in worker threads do not mix."""
    out, errors = {}, []

    def draw(n):
        try:
            out[n] = plots.waterfall_png(FIVE, max_features=n)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=draw, args=(n,)) for n in (2, 3, 4, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    heights = {n: imread(io.BytesIO(data)).shape[0] for n, data in out.items()}
    assert heights[2] < heights[3] < heights[4] < heights[5]  # each figure has its own bars
