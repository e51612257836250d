"""registry/plots.py draws stored evidence (the figures are read back: lines through the curve points, bars
as high as the counts) and refuses evidence without the needed part."""

import io
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.image import imread

from registry import evaluation as ev
from registry import plots

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def evidence():
    """Realistic evidence built by registry.evaluation, as the gate job stores it."""
    rng = np.random.default_rng(7)
    y = (rng.uniform(size=3000) < 0.15).astype(int)
    production = np.clip(0.25 * y + rng.beta(2, 6, 3000), 0, 1)
    candidate = np.clip(0.35 * y + rng.beta(2, 6, 3000), 0, 1)
    current = [
        {"feature": "days_since_signup", "importance": 0.21, "std": 0.012},
        {"feature": "refund_requested", "importance": 0.12, "std": 0.01},
        {"feature": "basket_value", "importance": 0.065, "std": 0.006},
        {"feature": "country", "importance": 0.03, "std": 0.004},
        {"feature": "device_type", "importance": 0.008, "std": 0.003},
        {"feature": "hour_of_day", "importance": -0.001, "std": 0.002},
    ]
    previous = [
        {"feature": "days_since_signup", "importance": 0.18},
        {"feature": "refund_requested", "importance": 0.02},
        {"feature": "basket_value", "importance": 0.07},
        {"feature": "country", "importance": 0.035},
        {"feature": "hour_of_day", "importance": 0.004},
    ]
    return {
        "curves": {"candidate": ev.curve_points(y, candidate), "production": ev.curve_points(y, production)},
        "prediction_diff": ev.prediction_diff(
            "binary_classification", candidate, production, candidate_threshold=0.45, production_threshold=0.5
        ),
        "importance": ev.importance_shift(current, previous),
    }


def _check_png(data: bytes, name: str) -> np.ndarray:
    assert data.startswith(PNG)
    Path(f"/tmp/keel-gate-{name}.png").write_bytes(data)  # for a human look; not asserted on
    image = imread(io.BytesIO(data))
    assert image.shape[1] == pytest.approx(8 * plots.DPI, abs=2)  # 8 inches wide at the module's dpi
    return image


def _line(ax, label_start: str):
    [line] = [line for line in ax.get_lines() if line.get_label().startswith(label_start)]
    return line


def _bars(ax, colour: str) -> list:
    return [patch for patch in ax.patches if to_hex(patch.get_facecolor()) == colour]


def test_curves_draw_each_models_roc_and_pr_points_and_the_naive_baselines(evidence):
    curves = evidence["curves"]
    roc, pr = plots.curves_figure(evidence).axes
    for label, points in (("Candidate", curves["candidate"]), ("Production", curves["production"])):
        roc_line = _line(roc, label)
        assert roc_line.get_label() == f"{label} (AUC {points['roc']['auc']:.3f})"
        np.testing.assert_allclose(roc_line.get_xdata(), points["roc"]["fpr"])
        np.testing.assert_allclose(roc_line.get_ydata(), points["roc"]["tpr"])
        pr_line = _line(pr, label)
        assert pr_line.get_label() == f"{label} (AP {points['pr']['average_precision']:.3f})"
        np.testing.assert_allclose(pr_line.get_xdata(), points["pr"]["recall"])
        np.testing.assert_allclose(pr_line.get_ydata(), points["pr"]["precision"])
    assert _line(roc, "Candidate").get_zorder() > _line(roc, "Production").get_zorder()  # candidate on top
    diagonal = _line(roc, "Naive baseline")
    assert list(diagonal.get_xdata()) == [0, 1] and list(diagonal.get_ydata()) == [0, 1]
    prevalence = _line(pr, "Naive baseline")
    assert list(prevalence.get_ydata()) == [curves["candidate"]["pr"]["prevalence"]] * 2  # a horizontal line


def test_curves_png_is_the_drawn_figure_at_its_size(evidence):
    image = _check_png(plots.curves_png(evidence), "curves")
    assert image.shape[0] == pytest.approx(3.5 * plots.DPI, abs=2)
    assert image[..., :3].std() > 0.05  # something was drawn, not a blank canvas


def test_curves_without_production_draw_the_candidate_alone(evidence):
    only_candidate = {"curves": {"candidate": evidence["curves"]["candidate"], "production": None}}
    roc, pr = plots.curves_figure(only_candidate).axes
    for ax in (roc, pr):
        assert [line.get_label().split(" (")[0] for line in ax.get_lines()] == ["Candidate", "Naive baseline"]
    assert plots.curves_png(only_candidate).startswith(PNG)


def test_prediction_diff_bars_are_the_histogram_with_a_line_at_no_change(evidence):
    diff = evidence["prediction_diff"]
    edges, counts = diff["histogram"]["edges"], diff["histogram"]["counts"]
    [ax] = plots.prediction_diff_figure(evidence).axes
    bars = ax.patches
    assert [bar.get_height() for bar in bars] == pytest.approx(counts)
    assert [bar.get_x() for bar in bars] == pytest.approx(edges[:-1])
    assert [bar.get_x() + bar.get_width() for bar in bars] == pytest.approx(edges[1:])
    zero = _line(ax, "No change")
    assert list(zero.get_xdata()) == [0, 0]
    assert ax.get_xlim() == pytest.approx((edges[0], edges[-1]))
    assert f"decision flips {100 * diff['flip_rate']:.1f}%" in ax.get_title()
    _check_png(plots.prediction_diff_png(evidence), "prediction-diff")


def test_prediction_diff_for_regression_has_no_flips_in_its_title():
    diff = ev.prediction_diff("regression", np.arange(50.0) + 0.5, np.arange(50.0))
    [ax] = plots.prediction_diff_figure({"prediction_diff": diff}).axes
    assert [bar.get_height() for bar in ax.patches] == pytest.approx(diff["histogram"]["counts"])
    assert "flips" not in ax.get_title()
    assert plots.prediction_diff_png({"prediction_diff": diff}).startswith(PNG)


def test_importance_bars_are_each_features_importance_now_and_before_jumps_in_orange(evidence):
    features = evidence["importance"]
    [ax] = plots.importance_figure(evidence).axes
    candidate_bars = sorted(_bars(ax, plots.CANDIDATE) + _bars(ax, plots.HIGHLIGHT), key=lambda bar: bar.get_y())
    assert [bar.get_width() for bar in candidate_bars] == pytest.approx([f["importance"] for f in features])
    previous_bars = sorted(_bars(ax, plots.PRODUCTION), key=lambda bar: bar.get_y())
    assert [bar.get_width() for bar in previous_bars] == pytest.approx([f.get("previous") or 0.0 for f in features])
    jumped = [f["feature"] for f in features if f.get("jumped")]
    assert jumped == ["refund_requested"]  # 0.02 -> 0.12
    assert [to_hex(bar.get_facecolor()) == plots.HIGHLIGHT for bar in candidate_bars] == [
        f.get("jumped", False) for f in features
    ]
    labels = [label.get_text() for label in ax.get_yticklabels()]
    assert labels[1] == "refund_requested  ▲ jumped" and labels[4] == "device_type (new)"
    assert ax.yaxis_inverted()  # the most important on top
    _check_png(plots.importance_png(evidence), "importance")


def test_importance_without_previous_version_draws_one_bar_per_feature():
    features = [{"feature": "a", "importance": 0.3, "std": 0.01}, {"feature": "b", "importance": 0.1, "std": 0.02}]
    [ax] = plots.importance_figure({"importance": features}).axes
    assert [bar.get_width() for bar in ax.patches] == pytest.approx([0.3, 0.1])
    assert [label.get_text() for label in ax.get_yticklabels()] == ["a", "b"]
    assert plots.importance_png({"importance": features}).startswith(PNG)


def test_many_features_get_a_taller_figure():
    features = [{"feature": f"f{i}", "importance": 0.01 * i, "std": 0.0} for i in range(30)]
    figure = plots.importance_figure({"importance": features})
    assert figure.get_size_inches()[1] == pytest.approx(0.34 * 30 + 1.3)
    image = imread(io.BytesIO(plots.importance_png({"importance": features})))
    assert image.shape[0] > 3.5 * plots.DPI


@pytest.mark.parametrize(
    "draw, evidence, message",
    [
        (plots.curves_png, {}, "'curves'"),
        (plots.curves_png, {"curves": {"candidate": None, "production": None}}, "'candidate'"),
        (plots.prediction_diff_png, {"prediction_diff": None}, "'prediction_diff'"),
        (plots.prediction_diff_png, {"prediction_diff": {"histogram": {"edges": [0, 1], "counts": []}}}, "histogram"),
        (plots.importance_png, {"curves": {}}, "'importance'"),
        (plots.importance_png, {"importance": []}, "'importance'"),
    ],
)
def test_missing_parts_raise_a_clear_value_error(draw, evidence, message):
    with pytest.raises(ValueError, match=message):
        draw(evidence)
