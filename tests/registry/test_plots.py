"""registry/plots.py renders PNGs from stored evidence and refuses evidence without the needed part."""

import io
from pathlib import Path

import numpy as np
import pytest
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
    assert image[..., :3].std() > 0.05  # something was drawn, not a blank canvas
    return image


def test_curves_png(evidence):
    image = _check_png(plots.curves_png(evidence), "curves")
    assert image.shape[0] == pytest.approx(3.5 * plots.DPI, abs=2)


def test_curves_png_without_production(evidence):
    only_candidate = {"curves": {"candidate": evidence["curves"]["candidate"], "production": None}}
    assert plots.curves_png(only_candidate).startswith(PNG)


def test_prediction_diff_png(evidence):
    _check_png(plots.prediction_diff_png(evidence), "prediction-diff")


def test_prediction_diff_png_for_regression_without_flips():
    diff = ev.prediction_diff("regression", np.arange(50.0) + 0.5, np.arange(50.0))
    assert plots.prediction_diff_png({"prediction_diff": diff}).startswith(PNG)


def test_importance_png(evidence):
    _check_png(plots.importance_png(evidence), "importance")


def test_importance_png_without_previous_version():
    features = [{"feature": "a", "importance": 0.3, "std": 0.01}, {"feature": "b", "importance": 0.1, "std": 0.02}]
    assert plots.importance_png({"importance": features}).startswith(PNG)


def test_many_features_get_a_taller_figure():
    features = [{"feature": f"f{i}", "importance": 0.01 * i, "std": 0.0} for i in range(30)]
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
