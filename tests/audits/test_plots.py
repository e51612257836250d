"""audits/plots.py draws a batch against its training reference from profiles alone, and refuses
what has no picture (id columns, mismatched kinds or bins). The figures are read back before they
are rendered: the densities' areas and peaks, the bars' lengths and colours, the labels."""

import copy
import io
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.image import imread
from matplotlib.patches import StepPatch

from audits import plots
from tests.audits.pages_scenario import numeric_column, soom_profiles

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def profiles():
    return soom_profiles()


def _image(data: bytes, name: str, width: float = plots.SIZE[0]) -> np.ndarray:
    assert data.startswith(PNG)
    Path(f"/tmp/keel-audit-plot-{name}.png").write_bytes(data)  # for a human look; not asserted on
    image = imread(io.BytesIO(data))
    assert image.shape[1] == pytest.approx(width * plots.DPI, abs=2)
    assert image[..., :3].std() > 0.05  # something was drawn, not a blank canvas
    return image


def _has_colour(image: np.ndarray, hex_colour: str) -> bool:
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255
    return bool((np.abs(image[..., :3] - rgb).max(axis=-1) < 0.02).any())


def _stairs(ax) -> dict[str, StepPatch]:
    """The numeric picture's two densities, by legend label without the count."""
    return {patch.get_label().split(" (")[0]: patch for patch in ax.patches if isinstance(patch, StepPatch)}


def _area(stairs: StepPatch, log: bool = False) -> float:
    values, edges, _ = stairs.get_data()
    widths = np.diff(np.log10(edges)) if log else np.diff(edges)
    return float((values * widths).sum())


def _peak(stairs: StepPatch) -> float:
    values, edges, _ = stairs.get_data()
    top = int(np.argmax(values))
    return float((edges[top] + edges[top + 1]) / 2)


def test_a_numeric_column_is_drawn_as_two_densities_on_the_reference_bins(profiles):
    reference, current = profiles
    ref_column, cur_column = reference["columns"]["meeting_minutes"], current["columns"]["meeting_minutes"]
    [ax] = plots.histogram_figure(ref_column, cur_column, "meeting_minutes").axes
    drawn = _stairs(ax)
    assert set(drawn) == {"Training reference", "This batch"}
    assert drawn["Training reference"].get_label() == "Training reference (4,000 values)"
    assert drawn["This batch"].get_label() == "This batch (950 values)"  # 1,000 rows, 50 null
    assert drawn["Training reference"].get_fill() and not drawn["This batch"].get_fill()
    log = ax.get_xscale() == "log"
    for stairs in drawn.values():  # densities: every value counted once, each side's area is 1
        assert _area(stairs, log) == pytest.approx(1.0)
    assert _peak(drawn["This batch"]) > _peak(drawn["Training reference"])  # meetings got longer
    image = _image(plots.histogram_png(ref_column, cur_column, "meeting_minutes"), "numeric")
    assert image.shape[0] == pytest.approx(plots.SIZE[1] * plots.DPI, abs=2)
    assert _has_colour(image, plots.CURRENT)


def test_rebinning_keeps_every_value_even_those_beyond_the_axis():
    edges = [1.0, 2.0, 3.0]
    bounds = plots._fine_bounds({"min": -50.0, "max": 90.0}, np.array(edges))
    counts = np.array([5.0, 10.0, 10.0, 7.0])
    display = np.linspace(0.5, 3.5, 7)
    out = plots._rebin(bounds, counts, display)
    assert out.sum() == pytest.approx(counts.sum())
    assert out[0] > 0 and out[-1] > 0  # the tails land in the end bars


def test_a_batch_outside_the_reference_range_is_drawn_where_it_is():
    rng = np.random.default_rng(3)
    train = rng.normal(10, 1, 2000)
    edges = np.unique(np.quantile(train, np.linspace(0, 1, 101)[1:-1])).tolist()
    psi_edges = np.unique(np.quantile(train, np.linspace(0, 1, 11)[1:-1])).tolist()
    shifted = numeric_column(rng.normal(30, 1, 500), edges, psi_edges)
    [ax] = plots.histogram_figure(numeric_column(train, edges, psi_edges), shifted, "attendees").axes
    drawn = _stairs(ax)
    assert ax.get_xlim()[1] > 31  # the axis reaches the batch, far beyond the reference's values
    assert _peak(drawn["Training reference"]) == pytest.approx(10, abs=1.5)
    assert _peak(drawn["This batch"]) == pytest.approx(30, abs=1.5)
    assert _area(drawn["This batch"], ax.get_xscale() == "log") == pytest.approx(1.0)
    _image(plots.histogram_png(numeric_column(train, edges, psi_edges), shifted, "attendees"), "numeric-shifted")


def _share_bars(ax) -> tuple[list[str], list, list]:
    """The shares picture: its labels top down, the reference's bars and the batch's, in that order."""
    labels = [label.get_text() for label in ax.get_yticklabels()]
    bars = ax.patches
    assert len(bars) == 2 * len(labels)
    return labels, bars[: len(labels)], bars[len(labels) :]


def test_a_new_category_is_highlighted(profiles):
    reference, current = profiles
    ref_column, cur_column = reference["columns"]["event_type"], current["columns"]["event_type"]
    [ax] = plots.histogram_figure(ref_column, cur_column, "event_type").axes
    labels, ref_bars, cur_bars = _share_bars(ax)
    values = [label.split("  (")[0] for label in labels]
    # The biggest share on either side first: festival's 14% of the batch outranks conference's 10%.
    assert values == ["meeting", "webinar", "festival", "conference", "meetup"]
    assert labels[2] == "festival  (new)"
    assert [bar.get_width() for bar in ref_bars] == pytest.approx(
        [ref_column["counts"].get(v, 0) / 4000 for v in values]
    )
    assert [bar.get_width() for bar in cur_bars] == pytest.approx([cur_column["counts"][v] / 1000 for v in values])
    assert [to_hex(bar.get_facecolor()) == plots.HIGHLIGHT for bar in cur_bars] == [False, False, True, False, False]
    assert {to_hex(bar.get_facecolor()) for bar in ref_bars} == {plots.REFERENCE}
    image = _image(plots.histogram_png(ref_column, cur_column, "event_type"), "categorical")
    assert _has_colour(image, plots.HIGHLIGHT)  # 'festival'


def test_only_the_top_categories_are_drawn():
    many = {
        "kind": "categorical",
        "count": 5000,
        "nulls": 0,
        "other": 0,
        "counts": {f"country-{i:02d}": 100 + i for i in range(50)},
    }
    figure = plots.histogram_figure(many, many, "country")
    labels, ref_bars, _ = _share_bars(figure.axes[0])
    assert labels == [f"country-{i:02d}" for i in range(49, 49 - plots.TOP_CATEGORIES, -1)]
    assert ref_bars[0].get_width() == pytest.approx(149 / sum(many["counts"].values()))
    assert f"(top {plots.TOP_CATEGORIES} of 50)" in figure.axes[0].get_xlabel()
    image = _image(plots.histogram_png(many, many, "country"), "categorical-many")
    assert image.shape[0] == pytest.approx((0.34 * plots.TOP_CATEGORIES + 1.3) * plots.DPI, abs=2)


def test_a_timestamp_column_is_drawn_as_its_date_formats(profiles):
    reference, current = profiles
    ref_column, cur_column = reference["columns"]["signup_date"], current["columns"]["signup_date"]
    [ax] = plots.histogram_figure(ref_column, cur_column, "signup_date").axes
    labels, ref_bars, cur_bars = _share_bars(ax)
    assert labels == ["%Y-%m-%d", "%d/%m/%Y  (new)"]
    assert [bar.get_width() for bar in ref_bars] == pytest.approx([1.0, 0.0])
    assert [bar.get_width() for bar in cur_bars] == pytest.approx([0.3, 0.7])
    assert to_hex(cur_bars[1].get_facecolor()) == plots.HIGHLIGHT  # %d/%m/%Y is new
    _image(plots.histogram_png(ref_column, cur_column, "signup_date"), "timestamp")


def test_null_rates_of_every_column(profiles):
    reference, current = copy.deepcopy(profiles)
    del current["columns"]["plan"]  # a column the batch lacks is still listed
    [ax] = plots.null_rates_figure(reference, current).axes
    labels, ref_bars, cur_bars = _share_bars(ax)
    # The biggest increase first (meeting_minutes: 0% -> 5%), the column the batch lacks last.
    assert labels == ["meeting_minutes", "customer_id", "event_type", "signup_date", "plan  (not in batch)"]
    assert [bar.get_width() for bar in ref_bars] == pytest.approx([0, 0, 0, 0, 0.01])
    assert [bar.get_width() for bar in cur_bars] == pytest.approx([0.05, 0, 0, 0, 0])
    _image(plots.null_rates_png(reference, current), "nulls", width=plots.WIDE)
    assert plots.null_share(reference, "plan") == pytest.approx(0.01)
    assert plots.null_share(current, "plan") is None


def test_an_empty_side_says_so_rather_than_failing(profiles):
    reference, _ = profiles
    empty = {
        **reference["columns"]["meeting_minutes"],
        "count": 0,
        "hist": [0] * len(reference["columns"]["meeting_minutes"]["hist"]),
        "min": None,
        "max": None,
    }
    [ax] = plots.histogram_figure(reference["columns"]["meeting_minutes"], empty, "meeting_minutes").axes
    assert not ax.patches
    assert [text.get_text() for text in ax.texts] == ["No values in the batch to compare"]
    _image(plots.histogram_png(reference["columns"]["meeting_minutes"], empty, "meeting_minutes"), "numeric-empty")


def test_what_has_no_picture_is_refused(profiles):
    reference, current = profiles
    with pytest.raises(ValueError, match="kind 'id'"):
        plots.histogram_png(reference["columns"]["customer_id"], current["columns"]["customer_id"], "customer_id")
    with pytest.raises(ValueError, match="profiled it as 'categorical'"):
        plots.histogram_png(reference["columns"]["meeting_minutes"], current["columns"]["plan"], "meeting_minutes")
    other_bins = {**current["columns"]["meeting_minutes"], "edges": [1.0, 2.0]}
    with pytest.raises(ValueError, match="reference's bin edges"):
        plots.histogram_png(reference["columns"]["meeting_minutes"], other_bins, "meeting_minutes")
    with pytest.raises(ValueError, match="no columns"):
        plots.null_rates_png({"rows": 0, "columns": {}}, {"rows": 0, "columns": {}})


@pytest.mark.parametrize("edges", [[], [5.0], [2.0, 5.0, 8.0]])
def test_every_value_is_drawn_whatever_the_number_of_bins(edges):
    values = np.array([0.5, 1, 2, 2, 3, 5, 5, 6, 9, 12.0])
    column = numeric_column(values, edges, edges)
    bounds, counts = plots._side_bins(column, np.array(edges))
    assert len(bounds) == len(counts) + 1 and np.all(np.diff(bounds) >= 0)
    assert counts.sum() == pytest.approx(values.size)
    assert plots._rebin(bounds, counts, np.linspace(0, 13, 9)).sum() == pytest.approx(values.size)


def test_a_long_tail_of_positive_values_is_drawn_on_a_log_axis():
    rng = np.random.default_rng(8)
    train = rng.lognormal(2.3, 1.0, 3000)  # attendees: most meetings small, a few webinars huge
    edges = np.unique(np.quantile(train, np.linspace(0, 1, 201)[1:-1])).tolist()
    psi_edges = np.unique(np.quantile(train, np.linspace(0, 1, 11)[1:-1])).tolist()
    reference, current = (
        numeric_column(train, edges, psi_edges),
        numeric_column(rng.lognormal(2.6, 1.2, 800), edges, psi_edges),
    )
    low, high = plots._display_range(reference, current, np.array(edges))
    assert plots._log_axis(reference, low, high)
    [ax] = plots.histogram_figure(reference, current, "attendees").axes
    assert ax.get_xscale() == "log"
    for stairs in _stairs(ax).values():  # density per log10 unit: the areas stay 1 on the log axis
        assert _area(stairs, log=True) == pytest.approx(1.0)
    _image(plots.histogram_png(reference, current, "attendees"), "numeric-log")
    normal = rng.normal(50, 5, 500)
    normal_edges = np.unique(np.quantile(normal, np.linspace(0, 1, 101)[1:-1])).tolist()
    symmetric = numeric_column(normal, normal_edges, normal_edges[::10])
    assert not plots._log_axis(symmetric, *plots._display_range(symmetric, symmetric, np.array(normal_edges)))
