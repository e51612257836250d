"""How well a campaign's labellers agree, and each labeller's figures for a lead.

Inputs are plain answers: per item, {labeller: label}. "unsure" is not a label here: a labeller who
could not tell gave no answer for agreement (it is reported as each labeller's share of "unsure"
instead), so an item counts as overlapped once two labellers gave it a label other than unsure.

Campaign agreement (`agreement`):
- Cohen's kappa when exactly two labellers answered the overlapped items (on the items both answered);
- Fleiss' kappa when every overlapped item has the same number k >= 2 of answers (raters taken as
  interchangeable, which is what Fleiss assumes; with k = 2 it is Scott's pi, close to Cohen's kappa);
- Krippendorff's alpha (nominal) always: it takes labellers who saw different subsets.
Per label, one-vs-rest: each answer recoded "this label or not", then Krippendorff's alpha of that
binary coding, and the label's specific agreement: of the pairs of answers on one item where at least
one is the label, the share where both are (2·both / (2·both + one)).

Per labeller (`labeller_figures`): items answered, median seconds, agreement with the others (the
share of pairs — this labeller's answer and another's on the same item — that are equal, and Cohen's
kappa over those pairs pooled), with the model (share of labels equal to the predicted label), with
gold (accuracy on gold items, "unsure" counting as a miss, with a Wilson interval) and the share of
"unsure". No Django here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from .agreement import cohen_kappa, fleiss_kappa, krippendorff_alpha
from .estimates import wilson

__all__ = ["LabelledAnswer", "agreement", "labeller_figures", "sure_answers"]

UNSURE = "unsure"
Z95 = 1.959963984540054


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def sure_answers(answers: Mapping[object, Mapping[object, str]]) -> dict[object, dict[object, str]]:
    """Per item, the answers other than "unsure"."""
    return {item: {who: label for who, label in given.items() if label != UNSURE} for item, given in answers.items()}


def agreement(answers: Mapping[object, Mapping[object, str]], labels: Iterable[str]) -> dict:
    """Agreement of a campaign's labellers on its overlapped items ({item: {labeller: label}})."""
    overlapped = {item: given for item, given in sure_answers(answers).items() if len(given) >= 2}
    labellers = sorted({who for given in overlapped.values() for who in given}, key=str)
    result = {
        "items_overlapped": len(overlapped),
        "labellers": len(labellers),
        "cohen_kappa": None,
        "fleiss_kappa": None,
        "krippendorff_alpha": None,
        "per_label": {},
    }
    if not overlapped:
        return result
    if len(labellers) == 2:
        a, b = labellers
        pairs = [(given[a], given[b]) for given in overlapped.values()]
        result["cohen_kappa"] = _finite(cohen_kappa([p[0] for p in pairs], [p[1] for p in pairs]))
    counts = {len(given) for given in overlapped.values()}
    categories = sorted({label for given in overlapped.values() for label in given.values()})
    if len(counts) == 1:
        code = {label: i for i, label in enumerate(categories)}
        table = np.zeros((len(overlapped), len(categories)), dtype=np.int64)
        for row, given in enumerate(overlapped.values()):
            for label in given.values():
                table[row, code[label]] += 1
        result["fleiss_kappa"] = _finite(fleiss_kappa(table))
    per_item = [{str(who): label for who, label in given.items()} for given in overlapped.values()]
    result["krippendorff_alpha"] = _finite(krippendorff_alpha(per_item))
    for label in [label for label in labels if label != UNSURE]:
        result["per_label"][label] = _label_agreement(per_item, label)
    return result


def _label_agreement(per_item: list[dict[str, str]], label: str) -> dict:
    both = one = answered = 0
    for given in per_item:
        values = list(given.values())
        answered += sum(value == label for value in values)
        for i in range(len(values)):
            for j in range(i + 1, len(values)):
                hits = (values[i] == label) + (values[j] == label)
                both += hits == 2
                one += hits == 1
    recoded = [{who: str(value == label) for who, value in given.items()} for given in per_item]
    return {
        "answers": answered,
        "specific_agreement": (2 * both / (2 * both + one)) if both + one else None,
        "krippendorff_alpha": _finite(krippendorff_alpha(recoded)),
    }


@dataclass(frozen=True)
class LabelledAnswer:
    """A labeller's latest answer to an item, with what the figures compare it against."""

    labeller: object
    item: object
    label: str
    seconds: float | None = None
    predicted: str | None = None  # the model's label for the item
    gold: str | None = None  # the known answer, for gold items


def labeller_figures(answers: Iterable[LabelledAnswer]) -> dict[object, dict]:
    """Each labeller's figures (see the module's docstring), keyed by labeller."""
    answers = list(answers)
    by_item: dict[object, dict[object, str]] = {}
    for answer in answers:
        by_item.setdefault(answer.item, {})[answer.labeller] = answer.label
    figures = {}
    for who in sorted({a.labeller for a in answers}, key=str):
        own = [a for a in answers if a.labeller == who]
        sure = [a for a in own if a.label != UNSURE]
        seconds = [a.seconds for a in own if a.seconds is not None]
        mine, theirs = [], []
        for a in sure:
            for other, label in by_item[a.item].items():
                if other != who and label != UNSURE:
                    mine.append(a.label)
                    theirs.append(label)
        compared = [a for a in sure if a.predicted]
        gold = [a for a in own if a.gold]
        right = sum(a.label == a.gold for a in gold)
        low, high = wilson(right / len(gold), len(gold), Z95) if gold else (None, None)
        figures[who] = {
            "items": len(own),
            "median_seconds": float(np.median(seconds)) if seconds else None,
            "unsure_share": (len(own) - len(sure)) / len(own) if own else None,
            "pairs": len(mine),
            "agreement_share": (sum(x == y for x, y in zip(mine, theirs, strict=True)) / len(mine)) if mine else None,
            "agreement_kappa": _finite(cohen_kappa(mine, theirs)) if mine else None,
            "model_share": (sum(a.label == a.predicted for a in compared) / len(compared)) if compared else None,
            "gold": {
                "answered": len(gold),
                "right": right,
                "accuracy": right / len(gold) if gold else None,
                "low": low,
                "high": high,
                "method": "wilson",
            },
        }
    return figures
