"""Side-by-side comparison of two model-version configs. Plain Python, no Django: a config is a
mapping of section name → {key: value}, and the diff lists every key of either side."""

from dataclasses import dataclass

SAME, CHANGED, ADDED, REMOVED = "same", "changed", "added", "removed"


@dataclass(frozen=True)
class DiffRow:
    section: str
    key: str
    left: object
    right: object
    status: str


def _status(in_left: bool, in_right: bool, left, right) -> str:
    if not in_left:
        return ADDED
    if not in_right:
        return REMOVED
    return SAME if left == right else CHANGED


def diff_configs(left: dict[str, dict], right: dict[str, dict]) -> list[DiffRow]:
    """Rows in section order (left's sections first), keys in their first-seen order."""
    rows: list[DiffRow] = []
    sections = list(left) + [s for s in right if s not in left]
    for section in sections:
        a, b = left.get(section, {}), right.get(section, {})
        keys = list(a) + [k for k in b if k not in a]
        for key in keys:
            rows.append(
                DiffRow(section, key, a.get(key), b.get(key), _status(key in a, key in b, a.get(key), b.get(key)))
            )
    return rows


def changed_only(rows: list[DiffRow]) -> list[DiffRow]:
    return [row for row in rows if row.status != SAME]
