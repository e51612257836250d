"""Agreement between labellers: Cohen's kappa as scikit-learn computes it, Fleiss' kappa on Fleiss'
worked example, Krippendorff's alpha as the `krippendorff` package computes it (and on Krippendorff's
own worked example, where labellers saw different items)."""

import math

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from audits.engine.relabel import cohen_kappa, fleiss_kappa, krippendorff_alpha


@pytest.mark.parametrize("seed", range(5))
def test_cohen_kappa_equals_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    a = rng.choice(["fraud", "ok", "unsure"], 200, p=[0.3, 0.6, 0.1])
    b = np.where(rng.random(200) < 0.7, a, rng.choice(["fraud", "ok", "spam"], 200))
    assert cohen_kappa(list(a), list(b)) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)


def test_cohen_kappa_perfect_and_undefined():
    assert cohen_kappa(["a", "b", "a"], ["a", "b", "a"]) == pytest.approx(1.0)
    assert math.isnan(cohen_kappa(["a", "a"], ["a", "a"]))  # chance agreement is 1
    with pytest.raises(ValueError, match="^b: "):
        cohen_kappa(["a", "b"], ["a"])


# Fleiss (1971) as worked on Wikipedia: 10 items, 14 raters, 5 categories; kappa = 0.210
WIKIPEDIA_TABLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def test_fleiss_kappa_on_the_worked_example():
    assert round(fleiss_kappa(np.array(WIKIPEDIA_TABLE)), 3) == 0.210


def test_fleiss_kappa_of_two_raters_and_bad_tables():
    assert fleiss_kappa(np.array([[2, 0], [0, 2], [2, 0]])) == pytest.approx(1.0)
    for table, message in (([[1, 1], [2, 1]], "same number"), ([[1, 0], [1, 0]], "at least 2"), ([1, 2], "2-D")):
        with pytest.raises(ValueError, match=f"^table: .*{message}"):
            fleiss_kappa(np.array(table))


# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 observers, 12 units, some
# missing; nominal alpha = 0.743
OBSERVERS = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}


def answers_per_item(observers: dict) -> list[dict[str, str]]:
    items = len(next(iter(observers.values())))
    return [{who: str(values[j]) for who, values in observers.items() if values[j] is not None} for j in range(items)]


def test_krippendorff_alpha_on_the_worked_example():
    assert round(krippendorff_alpha(answers_per_item(OBSERVERS)), 3) == 0.743


@pytest.mark.parametrize("seed", range(4))
def test_krippendorff_alpha_equals_the_package_when_labellers_saw_different_items(seed):
    rng = np.random.default_rng(seed)
    truth = rng.choice(["fraud", "ok", "spam"], 80)
    labellers = ["ana", "bo", "cy", "dee"]
    answers = []
    data = np.full((len(labellers), 80), np.nan)
    codes = {"fraud": 0, "ok": 1, "spam": 2}
    for j, t in enumerate(truth):
        item = {}
        for i, who in enumerate(labellers):
            if rng.random() < 0.5:
                label = t if rng.random() < 0.75 else rng.choice(list(codes))
                item[who] = str(label)
                data[i, j] = codes[str(label)]
        answers.append(item)
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert krippendorff_alpha(answers) == pytest.approx(expected, abs=1e-12)


def test_krippendorff_alpha_undefined_without_variation():
    assert math.isnan(krippendorff_alpha([{"a": "x", "b": "x"}, {"a": "x", "c": "x"}]))
    assert math.isnan(krippendorff_alpha([{"a": "x"}, {"b": "y"}]))  # nothing pairable
