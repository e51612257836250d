"""Single-row explanation latency: Keel's support.shap_engine.explain() vs bare shap calls on the same
model and the same rows.

    .venv/bin/python benchmarks/explain_latency.py [--rows 200] [--signups 20000] [--background 100]

1. Trains the demo upsell model once (demo: --signups seeded signups, the default
   hyperparameters: HistGradientBoosting, 150 iterations) and a logistic-regression pipeline on the
   same signups (one-hot + scaled numbers), which Keel explains with its model-agnostic path. The
   background is support.shap_engine.make_background(rows=--background), as a version stores it.
2. Times, per call and over --rows different hold-out rows (one-row DataFrames of raw features):
   Tree model
     keel warm     explain(..., version_key=...) with the explainer cached (after one priming call)
     keel cold     explain(..., version_key=None): the explainer is built inside every call
     bare naive    pre.transform(row); shap.TreeExplainer(clf)(X) built per call — how a naive
                   integration calls shap (path-dependent, log-odds, no background)
     bare reused   the same with the TreeExplainer built once
     bare same     shap.TreeExplainer(clf, data=background, feature_perturbation="interventional",
                   model_output="probability"), Keel's algorithm and units, built per call / reused
   Model-agnostic (logistic regression)
     keel warm / cold   as above (shap ExactExplainer over the 5 raw features, background masker)
     bare permutation   shap.PermutationExplainer(p(class 1) of the classifier, Independent(background
                        preprocessed)) on the 22 preprocessed columns, built per call / reused; its
                        values are per one-hot column, not per feature
   Keel's calls return everything the page shows (score, decision, contributions per raw feature,
   reasons, input key) and validate the input; the bare calls return a shap Explanation only.
3. Calls are interleaved row by row, so every measurement sees the same machine load, after one
   untimed call each. Prints p50 / p99 ms, Keel/bare ratios of the p50s, and how many rows' values
   add up to the score (|base + sum - score| <= 1e-6 in the call's units).

All timing runs with one OpenMP thread (as demo.training fits and scores) and after
support.shap_engine.warm_up() (shap's numba kernels: once per process, timed and printed separately).
It is a benchmark, not a test: nothing fails on a slow run.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from demo.signups import LABEL, generate_signups  # noqa: E402
from demo.training import CATEGORICAL, FEATURES, train_upsell_model  # noqa: E402
from support import shap_engine as ex  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", PendingDeprecationWarning)
    import shap  # noqa: E402

BINARY = "binary_classification"


def log(message: str = "") -> None:
    print(message, flush=True)


def stats(times: list[float]) -> tuple[float, float]:
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def logit(p: float) -> float:
    return float(np.log(p) - np.log1p(-p))


def keel_error(explanation: dict) -> float:
    """|base + sum(shap) - score| in the explanation's units."""
    target = logit(explanation["score"]) if explanation["units"] == "log-odds" else explanation["score"]
    total = explanation["base_value"] + sum(item["shap"] for item in explanation["contributions"])
    return abs(total - target)


def shap_error(explanation, target: float) -> float:
    return abs(float(np.ravel(explanation.base_values)[0]) + float(explanation.values.sum()) - target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200, help="different rows explained per measurement")
    parser.add_argument("--signups", type=int, default=20_000, help="signups to train on")
    parser.add_argument("--background", type=int, default=100, help="background rows stored with the version")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    log(
        f"Python {platform.python_version()}, shap {shap.__version__}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.2f} before the run"
    )
    with threadpool_limits(limits=1, user_api="openmp"):
        run(args)
    log(f"load {os.getloadavg()[0]:.2f} after the run")


def run(args) -> None:
    started = time.perf_counter()
    signups = generate_signups(args.signups, start=date(2026, 1, 1), end=date(2026, 12, 31), seed=args.seed)
    trained = train_upsell_model(signups, seed=args.seed)
    pipeline, schema, threshold = trained.pipeline, trained.feature_schema, trained.decision_threshold
    preprocess, classifier = pipeline.named_steps["preprocess"], pipeline.named_steps["classifier"]
    logistic = Pipeline(
        [
            (
                "preprocess",
                ColumnTransformer(
                    [("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL)],
                    remainder=StandardScaler(),
                    verbose_feature_names_out=False,
                ),
            ),
            ("classifier", LogisticRegression(max_iter=1000)),
        ]
    ).fit(signups[FEATURES], signups[LABEL])
    background = ex.make_background(signups, FEATURES, rows=args.background, seed=0)
    records = ex.background_to_records(background, schema)  # as the version stores it
    holdout = signups[FEATURES].iloc[-args.rows :].reset_index(drop=True)
    rows = [holdout.iloc[[i]] for i in range(len(holdout))]  # sliced before timing
    log(
        f"Trained the demo model on {args.signups:,} signups ({trained.hyperparameters['max_iter']} boosting "
        f"iterations, {len(preprocess.get_feature_names_out())} encoded columns) and a logistic regression "
        f"in {time.perf_counter() - started:.1f} s; {len(rows)} rows per measurement, {len(background)} "
        "background rows."
    )
    log(f"support.shap_engine.warm_up() (shap's numba kernels, once per process): {ex.warm_up():.1f} s")

    def keel(model, key):
        return lambda row: ex.explain(
            model,
            row,
            task_type=BINARY,
            feature_schema=schema,
            threshold=threshold,
            background=records,
            version_key=key,
        )

    # Bare shap, as an integration without Keel would call it on the same models and rows.
    background_matrix = preprocess.transform(background)

    def bare_tree(explainer=None):
        def call(row):
            return (explainer or shap.TreeExplainer(classifier))(preprocess.transform(row))

        return call

    def interventional():
        return shap.TreeExplainer(
            classifier, data=background_matrix, feature_perturbation="interventional", model_output="probability"
        )

    def bare_same(explainer=None):
        def call(row):
            return (explainer or interventional())(preprocess.transform(row), check_additivity=False)

        return call

    lr_pre, lr_clf = logistic.named_steps["preprocess"], logistic.named_steps["classifier"]
    lr_background = lr_pre.transform(background)

    def positive(X):
        return lr_clf.predict_proba(X)[:, 1]

    def permutation_explainer():
        return shap.PermutationExplainer(positive, shap.maskers.Independent(lr_background), seed=0)

    def bare_permutation(explainer=None):
        def call(row):
            return (explainer or permutation_explainer())(lr_pre.transform(row), silent=True)

        return call

    scores = [float(pipeline.predict_proba(row)[0, 1]) for row in rows]
    lr_scores = [float(logistic.predict_proba(row)[0, 1]) for row in rows]

    def keel_check(out, _score):
        return keel_error(out)

    def log_odds_check(out, score):
        return shap_error(out, logit(score))

    def probability_check(out, score):
        return shap_error(out, score)

    # (section, name, call, check, the scores the check compares with)
    measurements = [
        ("tree", "keel warm (cached explainer)", keel(pipeline, "demo"), keel_check, scores),
        ("tree", "keel cold (explainer built per call)", keel(pipeline, None), keel_check, scores),
        ("tree", "bare shap TreeExplainer per call (log-odds)", bare_tree(), log_odds_check, scores),
        (
            "tree",
            "bare shap TreeExplainer reused (log-odds)",
            bare_tree(shap.TreeExplainer(classifier)),
            log_odds_check,
            scores,
        ),
        ("tree", "bare shap interventional+probability per call", bare_same(), probability_check, scores),
        ("tree", "bare shap interventional+probability reused", bare_same(interventional()), probability_check, scores),
        ("agnostic", "keel warm (cached explainer)", keel(logistic, "logistic"), keel_check, lr_scores),
        ("agnostic", "keel cold (explainer built per call)", keel(logistic, None), keel_check, lr_scores),
        ("agnostic", "bare shap PermutationExplainer per call", bare_permutation(), probability_check, lr_scores),
        (
            "agnostic",
            "bare shap PermutationExplainer reused",
            bare_permutation(permutation_explainer()),
            probability_check,
            lr_scores,
        ),
    ]
    ex.clear_explainer_cache()
    first = keel(pipeline, "demo")(rows[0])  # prime the warm measurements: build and cache the explainers
    assert (first["method"], first["units"]) == ("tree", "probability")
    assert keel(logistic, "logistic")(rows[0])["method"] == "exact"
    for _, _, call, _, _ in measurements:
        call(rows[0])  # first-call costs (imports, allocations) are not what is measured
    # Interleaved, row by row, so every call sees the same machine (the load of a shared box drifts).
    times = [[] for _ in measurements]
    outputs = [[] for _ in measurements]
    for row in rows:
        for m, (_, _, call, _, _) in enumerate(measurements):
            started = time.perf_counter()
            outputs[m].append(call(row))
            times[m].append((time.perf_counter() - started) * 1e3)
    results = []
    for m, (section, name, _, check, reference) in enumerate(measurements):
        errors = [check(out, score) for out, score in zip(outputs[m], reference)]
        results.append((section, name, times[m], errors))
    report(results)


def report(results: list[tuple]) -> None:
    """results: (section, name, milliseconds per row, additivity error per row)."""
    p50 = {(section, name): stats(times)[0] for section, name, times, _ in results}
    log()
    log(f"{'path':<9}{'call':<48}{'p50 ms':>9}{'p99 ms':>9}{'adds up':>10}{'worst error':>13}")
    for section, name, times, errors in results:
        median, tail = stats(times)
        good = sum(error <= 1e-6 for error in errors)
        log(f"{section:<9}{name:<48}{median:>9.2f}{tail:>9.2f}{f'{good}/{len(errors)}':>10}{max(errors):>13.1e}")
    log("(adds up: rows where |base value + sum of the values - score| <= 1e-6, in the call's units)")
    log()
    log("Keel / bare, p50 (below 1 = Keel faster):")
    pairs = [
        ("tree", "keel warm (cached explainer)", "bare shap TreeExplainer per call (log-odds)"),
        ("tree", "keel warm (cached explainer)", "bare shap TreeExplainer reused (log-odds)"),
        ("tree", "keel warm (cached explainer)", "bare shap interventional+probability per call"),
        ("tree", "keel warm (cached explainer)", "bare shap interventional+probability reused"),
        ("tree", "keel cold (explainer built per call)", "bare shap interventional+probability per call"),
        ("agnostic", "keel warm (cached explainer)", "bare shap PermutationExplainer per call"),
        ("agnostic", "keel warm (cached explainer)", "bare shap PermutationExplainer reused"),
        ("agnostic", "keel cold (explainer built per call)", "bare shap PermutationExplainer per call"),
    ]
    for section, keel_name, bare_name in pairs:
        ratio = p50[(section, keel_name)] / p50[(section, bare_name)]
        log(f"  {section:<9}{keel_name:<38} / {bare_name:<46}{ratio:>7.2f}")


if __name__ == "__main__":
    main()
