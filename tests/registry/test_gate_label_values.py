"""A hold-out's binary label may be written as its team writes it: yes/no, true/false, y/n or 1/0 in
any case are understood; any other pair (churned/stayed) names its positive value with
positive_label at registration; anything else is refused with the values seen, as written."""

import numpy as np
import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from registry.models import HoldoutDataset
from registry.services.gate import GateInputError, prepare_labels
from tests.registry.promotion_helpers import model_with_versions


def labels(values, positive_label=""):
    holdout = HoldoutDataset(label_column="churn", positive_label=positive_label)
    return prepare_labels(pd.DataFrame({"churn": values}), holdout, "binary_classification").tolist()


@pytest.mark.parametrize(
    "values",
    [
        ["yes", "no", "YES", "No"],
        [True, False, True, False],
        ["true", "False", "TRUE", "false"],
        ["y", "n", "Y", "N"],
        [1, 0, 1, 0],
        [1.0, 0.0, 1.0, 0.0],
        np.array([1, 0, 1, 0], dtype=np.int64),
    ],
)
def test_common_spellings_of_a_binary_label_are_understood(values):
    assert labels(values) == [1, 0, 1, 0]


def test_another_pair_is_read_with_the_positive_label_the_request_declared():
    assert labels(["churned", "stayed", "stayed", "Churned"], positive_label="churned") == [1, 0, 0, 1]
    assert labels(["yes", "no"], positive_label="no") == [0, 1]  # a declared label wins over the spelling


def test_another_pair_without_a_positive_label_is_refused_naming_both_values():
    with pytest.raises(GateInputError) as refused:
        labels(["churned", "stayed", "stayed"])
    message = str(refused.value)
    assert "'churn' holds churned and stayed" in message and "positive_label" in message


def test_three_values_are_refused_naming_them_as_written():
    with pytest.raises(GateInputError) as refused:
        labels(np.array([0, 1, 2, 1], dtype=np.int64))
    assert str(refused.value) == "A binary label has two values; 'churn' holds 3: 1, 0, 2."
    assert "np." not in str(refused.value)


def test_a_positive_label_that_is_not_a_value_is_refused_with_the_values_seen():
    with pytest.raises(GateInputError) as refused:
        labels(["churned", "stayed"], positive_label="left")
    assert str(refused.value) == "The positive label 'left' is not a value of 'churn', which holds churned, stayed."


def test_a_label_of_one_value_is_shown_as_written_not_as_numpy_wrote_it():
    with pytest.raises(GateInputError) as refused:
        labels(np.array([1, 1, 1], dtype=np.int64))
    assert str(refused.value).startswith("Every hold-out row has label 1;")


@pytest.fixture
def upsell(db, reviewer):
    return model_with_versions(owner=reviewer)


def test_a_pipeline_registers_a_holdout_with_its_positive_label(api_as, pipeline, upsell):
    response = api_as(pipeline).post(
        "/api/v1/models/upsell/holdouts/",
        {
            "name": "october",
            "label_column": "churn",
            "positive_label": "churned",
            "file": SimpleUploadedFile("h.csv", b"plan,churn\nfree,churned\npro,stayed\n"),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["positive_label"] == "churned"
    assert upsell.holdouts.get().positive_label == "churned"
