"""Text that quotes what someone sent, bounded: a value, a column name or an error message is cut at
a limit and ends with "…(N more bytes)", so a 50 MB value cannot reach a finding, a profile, a
message or a page whole. Pure Python, no Django."""

from __future__ import annotations

__all__ = ["MESSAGE_LIMIT", "VALUE_LIMIT", "clip"]

VALUE_LIMIT = 200  # characters kept of a value or a name
MESSAGE_LIMIT = 1000  # characters kept of a message quoting a library's error


def clip(text, limit: int = VALUE_LIMIT) -> str:
    """`text` (str, or bytes read as UTF-8) whole when it has at most `limit` characters, else its first
    `limit` characters and "…(N more bytes)", N counting the UTF-8 bytes left out."""
    if isinstance(text, (bytes, bytearray)):
        if len(text) <= limit:
            return bytes(text).decode("utf-8", "replace")
        head = bytes(text[: limit * 4]).decode("utf-8", "ignore")[:limit]
        return f"{head}…({len(text) - len(head.encode('utf-8')):,} more bytes)"
    text = text if isinstance(text, str) else str(text)
    if len(text) <= limit:
        return text
    head = text[:limit]
    rest = len(text) - limit if text.isascii() else len(text[limit:].encode("utf-8", "surrogatepass"))
    return f"{head}…({rest:,} more bytes)"
