"""How API v1 reads JSON bodies: DRF's parser, with a bound on nesting.

Python's json module recurses once per level, so a body of 100,000 `[` exhausts the interpreter's
stack (RecursionError, a 500), and a body just under that limit parses but breaks whatever walks it
next (a serializer, the renderer, the database's JSON). No Keel request nests more than a handful of
levels, so a body nested deeper than MAX_JSON_DEPTH is refused as a parse error (400) before any view
sees it."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_JSON_DEPTH = 100

TOO_DEEP = f"JSON parse error - the body is nested deeper than {MAX_JSON_DEPTH} levels."
HAS_NUL = "JSON parse error - text (keys included) may not contain the NUL character (\\u0000)."


def json_has_nul(value) -> bool:
    """Whether any text in `value` (parsed JSON), keys included, holds a NUL: the database stores no
    NUL in text or JSON, so such a body could never be kept."""
    pending = [value]
    while pending:
        node = pending.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return True
        elif isinstance(node, dict):
            pending.extend(node.keys())
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return False


def json_depth_exceeds(value, limit: int) -> bool:
    """Whether `value` (parsed JSON) nests lists and objects more than `limit` levels deep. Iterative,
    so it cannot itself run out of stack."""
    pending = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing bodies nested deeper than MAX_JSON_DEPTH, or holding a NUL in
    any text, with a ParseError."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        if json_depth_exceeds(data, MAX_JSON_DEPTH):
            raise ParseError(TOO_DEEP)
        if json_has_nul(data):
            raise ParseError(HAS_NUL)
        return data


def keel_parser_classes(parser_classes) -> list:
    """A view's parser classes with DRF's JSON parser replaced by Keel's, so a view that names DRF's
    parsers explicitly (to accept uploads as well as JSON) still reads JSON with the bound."""
    return [JSONParser if cls is parsers.JSONParser else cls for cls in parser_classes]
