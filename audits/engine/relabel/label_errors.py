"""Suspected label errors in a labelled batch, by cleanlab's confident learning.

Given each row's given label and the model's predicted class probabilities (out-of-sample: a
production model's logged scores on requests it never trained on are), `find_label_issues` flags the
rows whose given label the probabilities contradict with confidence (per-class thresholds from the
confident joint, pruned by the estimated noise rate) and ranks them by self-confidence (the
probability the model gives the given label: lowest first).

The label_errors design draws the top `size` of that ranking: a purposive choice, not a random one.
Each drawn row gets inclusion probability 1, and an estimate from such a campaign is the share of
the drawn suspects people find wrongly labelled (cleanlab's precision on this batch), never an error
rate of the whole log. The ranking is deterministic: the seed is recorded but changes nothing.

Confident learning needs the whole batch at once (the confident joint counts every row), so the
draw reads the batch's rows into memory: the batch is a labelled file, bounded by the upload limit,
not the prediction log.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from .sampling import Design, DesignError, Sample

__all__ = ["SUSPECTED", "binary_probabilities", "draw_label_errors", "suspected_label_errors"]

SUSPECTED = "suspected label error"


def suspected_label_errors(labels, pred_probs, classes: list[str]) -> pd.DataFrame:
    """The rows cleanlab finds mislabelled, most suspect first: position (in the input), given
    label, suggested label (the most probable class), self_confidence and rank (1 = most suspect)."""
    from cleanlab.filter import find_label_issues  # heavy import, only when a batch is checked

    labels = pd.Series(labels, dtype=object).astype(str).to_numpy(dtype=object)
    probs = np.asarray(pred_probs, dtype=np.float64)
    classes = [str(c) for c in classes]
    if probs.ndim != 2 or probs.shape != (len(labels), len(classes)):
        raise ValueError(f"pred_probs: needs one row per label and one column per class ({len(classes)})")
    index = {name: i for i, name in enumerate(classes)}
    unknown = sorted({label for label in labels if label not in index})
    if unknown:
        raise ValueError(f"labels: {unknown[0]!r} is not one of the classes ({', '.join(classes)})")
    codes = np.array([index[label] for label in labels], dtype=np.int64)
    empty = pd.DataFrame(
        {"position": [], "given_label": [], "suggested_label": [], "self_confidence": [], "rank": []}
    ).astype({"position": np.int64, "rank": np.int64})
    if len(codes) == 0 or len(np.unique(codes)) < 2:
        return empty  # one class given: nothing to contradict
    probs = np.clip(probs, 0.0, 1.0)
    sums = probs.sum(axis=1, keepdims=True)
    probs = np.divide(probs, sums, out=np.full_like(probs, 1.0 / len(classes)), where=sums > 0)
    found = find_label_issues(codes, probs, return_indices_ranked_by="self_confidence", n_jobs=1)
    found = np.asarray(found, dtype=np.int64)
    names = np.array(classes, dtype=object)
    return pd.DataFrame(
        {
            "position": found,
            "given_label": labels[found],
            "suggested_label": names[probs[found].argmax(axis=1)] if len(found) else [],
            "self_confidence": probs[found, codes[found]] if len(found) else [],
            "rank": np.arange(1, len(found) + 1, dtype=np.int64),
        }
    )


def binary_probabilities(scores, positive: str, negative: str) -> tuple[np.ndarray, list[str]]:
    """A binary model's score (the probability of `positive`) as the two-column matrix cleanlab reads."""
    s = np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)
    return np.column_stack([1.0 - s, s]), [negative, positive]


def draw_label_errors(chunks: Iterable[pd.DataFrame], design: Design, *, seed: int) -> Sample:
    """The label_errors design on chunks with columns id, score (the probability of
    `design.positive`) and given_label (the label that arrived; missing: not labelled, left out)."""
    frames = []
    for chunk in chunks:
        missing = [c for c in ("id", "score", "given_label") if c not in chunk.columns]
        if missing:
            raise ValueError(f"chunks: missing column {missing[0]!r} (need id, score, given_label)")
        frames.append(chunk[["id", "score", "given_label"]])
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["id", "score", "given_label"])
    rows = rows[rows["given_label"].notna() & rows["score"].notna()]
    rows = rows.assign(given_label=rows["given_label"].astype(str)).sort_values("id", kind="stable")
    given = sorted(set(rows["given_label"]))
    others = [c for c in given if c != design.positive]
    if len(others) > 1:
        raise DesignError(
            "positive",
            f"the logged score is one class's probability, so the batch may hold 2 classes; it holds "
            f"{', '.join(given[:5])}",
        )
    negative = others[0] if others else f"not {design.positive}"
    probs, classes = binary_probabilities(rows["score"].to_numpy(dtype=np.float64), design.positive, negative)
    found = suspected_label_errors(rows["given_label"].to_numpy(dtype=object), probs, classes)
    top = found.head(design.size)
    ids = rows["id"].to_numpy(dtype=np.int64)[top["position"].to_numpy(dtype=np.int64)]
    items = pd.DataFrame(
        {
            "id": ids,
            "stratum": pd.Series([SUSPECTED] * len(ids), dtype=object),
            "inclusion_probability": np.ones(len(ids)),
        }
    )
    return Sample(
        items=items, population=len(rows), stratum_population={SUSPECTED: len(found)}, design=design, seed=int(seed)
    )
