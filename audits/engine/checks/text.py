"""Text checks of a batch's profile against the training reference: mean length, the share of
empty values, and whether training's most frequent words still are.

Pure Python; no Django. Profiles follow docs/audit-profile-format.md.
"""

from __future__ import annotations

from ..suite import ColumnRules
from .findings import Finding, _pct, _severity, _tripped

__all__ = ["TEXT_LENGTH_RATIO", "TEXT_EMPTY_INCREASE", "TOP_WORDS", "TOP_WORDS_MIN_OVERLAP"]

TEXT_LENGTH_RATIO = (0.5, 2.0)
TEXT_EMPTY_INCREASE = 0.10
TOP_WORDS = 20
TOP_WORDS_MIN_OVERLAP = 0.5


def text_findings(name, ref, current, cur, rules: ColumnRules) -> list[Finding]:
    out = []
    count = int(cur.get("count") or 0)
    if not ref or not count or not int(ref.get("count") or 0):
        return out
    severity = _severity(rules, "text_length")
    ref_len, cur_len = float(ref.get("length_mean") or 0.0), float(cur.get("length_mean") or 0.0)
    ref_empty = int(ref.get("empty") or 0) / int(ref["count"])
    cur_empty = int(cur.get("empty") or 0) / count
    issues = []
    ratio = cur_len / ref_len if ref_len else None
    if ratio is not None and not (TEXT_LENGTH_RATIO[0] <= ratio <= TEXT_LENGTH_RATIO[1]):
        issues.append(f"mean length {cur_len:.1f} characters is {ratio:.2f}× the reference's {ref_len:.1f}")
    if cur_empty - ref_empty > TEXT_EMPTY_INCREASE:
        issues.append(f"{_pct(cur_empty)} of values are empty (reference {_pct(ref_empty)})")
    details = {
        "length_mean": cur_len,
        "reference_length_mean": ref_len,
        "length_ratio": ratio,
        "empty_share": cur_empty,
        "reference_empty_share": ref_empty,
    }
    if issues:
        out.append(
            Finding(
                "text_length",
                name,
                severity,
                _tripped(severity, "text_length"),
                f"{name}: " + "; ".join(issues) + ".",
                ratio,
                TEXT_LENGTH_RATIO[1],
                details,
            )
        )
    else:
        out.append(
            Finding(
                "text_length",
                name,
                severity,
                "pass",
                f"{name}: mean length {cur_len:.1f} characters (reference {ref_len:.1f}), "
                f"{_pct(cur_empty)} empty (reference {_pct(ref_empty)}).",
                ratio,
                TEXT_LENGTH_RATIO[1],
                details,
            )
        )

    severity = _severity(rules, "text_words")
    ref_top = [w for w, _ in sorted((ref.get("words") or {}).items(), key=lambda t: (-t[1], t[0]))[:TOP_WORDS]]
    cur_top = [w for w, _ in sorted((cur.get("words") or {}).items(), key=lambda t: (-t[1], t[0]))[:TOP_WORDS]]
    if ref_top and cur_top:
        kept = len(set(ref_top) & set(cur_top)) / len(ref_top)
        appeared = [w for w in cur_top if w not in ref_top]
        gone = [w for w in ref_top if w not in cur_top]
        details = {
            "top_words": cur_top,
            "reference_top_words": ref_top,
            "appeared": appeared,
            "disappeared": gone,
            "overlap": kept,
        }
        if kept < TOP_WORDS_MIN_OVERLAP:
            out.append(
                Finding(
                    "text_words",
                    name,
                    severity,
                    "warn",
                    f"{name}: only {_pct(kept)} of training's top {len(ref_top)} words are still among the "
                    f"most frequent; new: {', '.join(appeared[:5])}; gone: {', '.join(gone[:5])}.",
                    kept,
                    TOP_WORDS_MIN_OVERLAP,
                    details,
                )
            )
        else:
            out.append(
                Finding(
                    "text_words",
                    name,
                    severity,
                    "pass",
                    f"{name}: {_pct(kept)} of training's top {len(ref_top)} words are still the most frequent"
                    + (f" (new: {', '.join(appeared[:5])})." if appeared else "."),
                    kept,
                    TOP_WORDS_MIN_OVERLAP,
                    details,
                )
            )
    return out
