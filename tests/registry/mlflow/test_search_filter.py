"""MLflow's search grammar, read into comparisons (pure: no database)."""

import pytest

from registry.mlflow.search_filter import Comparison, OrderBy, SearchSyntaxError, parse_filter, parse_order_by


def test_each_entity_and_operator():
    assert parse_filter(
        "metrics.rmse < 0.5 AND params.model = 'tree' and tags.`team name` != \"growth\" "
        "AND attributes.status IN ('FINISHED', 'FAILED') AND run_name LIKE 'nightly%' AND tags.x NOT IN ('a')"
    ) == [
        Comparison("metric", "rmse", "<", 0.5),
        Comparison("param", "model", "=", "tree"),
        Comparison("tag", "team name", "!=", "growth"),
        Comparison("attribute", "status", "IN", ("FINISHED", "FAILED")),
        Comparison("attribute", "run_name", "LIKE", "nightly%"),
        Comparison("tag", "x", "NOT IN", ("a",)),
    ]


def test_keys_keep_their_dots_and_quotes_unescape():
    assert parse_filter("metrics.val.loss >= -1e-3") == [Comparison("metric", "val.loss", ">=", -0.001)]
    assert parse_filter("tags.\"mlflow.runName\" = 'it''s'") == [Comparison("tag", "mlflow.runName", "=", "it's")]
    assert parse_filter("") == [] and parse_filter(None) == []


@pytest.mark.parametrize(
    "text",
    [
        "metrics.loss < 'low'",  # metrics are numbers
        "params.depth = 3",  # params are text
        "metrics.loss LIKE 'a%'",
        "a = 'x' OR b = 'y'",
        "a = 'x' b = 'y'",
        "metrics.loss <",
        "= 3",
        "a IN 'x'",
        "a IN ('x' 'y')",
        "a = 'unterminated",
        "a ~ 'x'",
    ],
)
def test_what_cannot_be_read_says_why(text):
    with pytest.raises(SearchSyntaxError):
        parse_filter(text)


def test_order_by():
    assert parse_order_by(["metrics.rmse DESC", "start_time", "params.`a b` asc"]) == [
        OrderBy("metric", "rmse", False),
        OrderBy("attribute", "start_time", True),
        OrderBy("param", "a b", True),
    ]
    with pytest.raises(SearchSyntaxError):
        parse_order_by(["rmse DESC sideways"])
