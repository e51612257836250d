"""MLflow's search grammar, parsed into plain values (no Django: the endpoints turn them into queries).

    filter   := comparison ( AND comparison )*
    comparison := identifier op value
    identifier := [ (metrics|metric|params|param|tags|tag|attributes|attribute|attr|run) "." ] key
    key      := name | `back-quoted` | "double-quoted"
    op       := = | != | < | <= | > | >= | LIKE | ILIKE | IN | NOT IN
    value    := 'text' | "text" | number | ( 'text', … )

    order_by := identifier [ ASC | DESC ]

As in MLflow: OR is not supported, a bare identifier names an attribute, metrics compare with
numbers, params and tags with text. The grammar is small enough that a hand parser says exactly
what is wrong with a filter; MLflow itself parses with sqlparse, which Keel does not otherwise need.
"""

import re
from dataclasses import dataclass

__all__ = ["Comparison", "OrderBy", "SearchSyntaxError", "parse_filter", "parse_order_by", "ENTITY_ALIASES"]

ENTITY_ALIASES = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "parameters": "param",
    "parameter": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
    "run": "attribute",
}
COMPARISON_OPERATORS = ("=", "!=", "<", "<=", ">", ">=")
STRING_OPERATORS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")


class SearchSyntaxError(ValueError):
    """The filter or order_by clause cannot be read; the message says where and why."""


@dataclass(frozen=True)
class Comparison:
    entity: str  # metric, param, tag, attribute
    key: str
    op: str  # =, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN
    value: object  # float for numbers, str for text, tuple[str, ...] for IN


@dataclass(frozen=True)
class OrderBy:
    entity: str
    key: str
    ascending: bool


_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")
    | (?P<backquoted>`[^`]*`)
    | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
    | (?P<op>!=|<=|>=|=|<|>)
    | (?P<punct>[(),.])
    | (?P<word>[A-Za-z_][\w\-:/]*)
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise SearchSyntaxError(f"Cannot read the search expression at position {pos}: {text[pos : pos + 20]!r}.")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def _unquote(token: str) -> str:
    quote, body = token[0], token[1:-1]
    if quote == "'":
        body = body.replace("''", "'")
    return re.sub(r"\\(.)", r"\1", body) if quote in "'\"" else body


class _Reader:
    def __init__(self, text: str):
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self, offset: int = 0):
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else (None, None)

    def take(self):
        token = self.peek()
        if token[0] is None:
            raise SearchSyntaxError("The search expression ends too early.")
        self.pos += 1
        return token

    def done(self) -> bool:
        return self.pos >= len(self.tokens)

    def word_is(self, *words: str) -> bool:
        kind, value = self.peek()
        return kind == "word" and value.upper() in words

    def identifier(self) -> tuple[str, str]:
        kind, value = self.take()
        if kind == "word" and self.peek()[1] == "." and value.lower() in ENTITY_ALIASES:
            self.take()
            entity = ENTITY_ALIASES[value.lower()]
            kind, value = self.take()
            if kind not in ("word", "backquoted", "string", "number"):
                raise SearchSyntaxError(f"Expected a key after '{entity}.'.")
            key = _unquote(value) if kind in ("backquoted", "string") else value
            # Keys such as `metrics.val.loss` keep their dots.
            while self.peek()[1] == "." and self.peek(1)[0] in ("word", "number"):
                self.take()
                key += "." + self.take()[1]
            return entity, key
        if kind in ("word", "backquoted", "string"):
            return "attribute", _unquote(value) if kind != "word" else value
        raise SearchSyntaxError(f"Expected a metric, param, tag or attribute name, got {value!r}.")


def _value(reader: _Reader, op: str):
    kind, value = reader.take()
    if op in ("IN", "NOT IN"):
        if value != "(":
            raise SearchSyntaxError(f"{op} takes a list in parentheses: ('a', 'b').")
        items = []
        while True:
            kind, value = reader.take()
            if kind != "string":
                raise SearchSyntaxError(f"{op} lists quoted text values.")
            items.append(_unquote(value))
            kind, value = reader.take()
            if value == ")":
                return tuple(items)
            if value != ",":
                raise SearchSyntaxError(f"Separate the values of {op} with commas.")
    if kind == "string":
        return _unquote(value)
    if kind == "number":
        return float(value)
    raise SearchSyntaxError(f"Expected a quoted text or a number, got {value!r}.")


def parse_filter(text: str | None) -> list[Comparison]:
    """The comparisons of a filter, all of which must hold (AND)."""
    if not text or not text.strip():
        return []
    reader = _Reader(text)
    comparisons = []
    while True:
        entity, key = reader.identifier()
        if reader.word_is("NOT") and reader.peek(1)[1] and reader.peek(1)[1].upper() == "IN":
            reader.take(), reader.take()
            op = "NOT IN"
        elif reader.word_is("LIKE", "ILIKE", "IN"):
            op = reader.take()[1].upper()
        elif reader.peek()[0] == "op":
            op = reader.take()[1]
        else:
            raise SearchSyntaxError(f"Expected a comparison operator after '{key}'.")
        value = _value(reader, op)
        comparisons.append(_checked(Comparison(entity, key, op, value)))
        if reader.done():
            return comparisons
        if reader.word_is("OR"):
            raise SearchSyntaxError("OR is not supported in a search filter (as in MLflow): use AND.")
        if not reader.word_is("AND"):
            raise SearchSyntaxError(f"Expected AND between comparisons, got {reader.peek()[1]!r}.")
        reader.take()


def _checked(comparison: Comparison) -> Comparison:
    entity, op, value = comparison.entity, comparison.op, comparison.value
    if entity == "metric":
        if not isinstance(value, float):
            raise SearchSyntaxError(f"Metric '{comparison.key}' is compared with a number, not text.")
        if op not in COMPARISON_OPERATORS:
            raise SearchSyntaxError(f"Metrics compare with {', '.join(COMPARISON_OPERATORS)}, not {op}.")
    elif entity in ("param", "tag"):
        if isinstance(value, float):
            raise SearchSyntaxError(f"{entity.title()} '{comparison.key}' is compared with quoted text, not a number.")
        if op not in STRING_OPERATORS:
            raise SearchSyntaxError(f"{entity.title()}s compare with {', '.join(STRING_OPERATORS)}, not {op}.")
    return comparison


def parse_order_by(clauses: list[str] | None) -> list[OrderBy]:
    orders = []
    for clause in clauses or []:
        reader = _Reader(clause)
        entity, key = reader.identifier()
        ascending = True
        if reader.word_is("ASC", "DESC"):
            ascending = reader.take()[1].upper() == "ASC"
        if not reader.done():
            raise SearchSyntaxError(f"Cannot read the order_by clause {clause!r}: use 'key [ASC|DESC]'.")
        orders.append(OrderBy(entity, key, ascending))
    return orders
