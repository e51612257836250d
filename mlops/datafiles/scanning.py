"""One read of a data file's bytes: sha256 and size, the first byte that is not UTF-8, line breaks
and blank lines, and whether a declared checksum or HMAC signature matches. Pure Python, no Django;
mlops.datafiles.reading builds on it.
"""

from __future__ import annotations

import codecs
import hashlib
import hmac
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from mlops.hashing import BLOCK


def blocks(path, size: int = BLOCK) -> Iterator[bytes]:
    """The file's bytes, `size` at a time."""
    with open(path, "rb") as f:
        while block := f.read(size):
            yield block


class Utf8Check:
    """The offset of the first byte that is not UTF-8 in blocks fed in order (None while valid). A
    multi-byte character split across two blocks is fine; one cut off by the end is reported at its
    first byte."""

    def __init__(self):
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._position = 0  # offset of the start of the block being decoded
        self.bad: int | None = None

    def feed(self, block: bytes, *, final: bool = False) -> None:
        if self.bad is not None:
            return
        pending = len(self._decoder.getstate()[0])
        try:
            self._decoder.decode(block, final=final)
        except UnicodeDecodeError as e:
            self.bad = self._position - pending + e.start
        self._position += len(block)


_BLANK_LINE = re.compile(rb"\n[ \t\r\x0b\x0c]*(?=\n)")
_NOT_SPACE = re.compile(rb"[^ \t\n\r\x0b\x0c]")


class LineCount:
    """Line breaks (b"\\n") of blocks fed in order, whether the last byte is one, and optionally the
    lines holding only whitespace (what bytes.strip() removes)."""

    def __init__(self, *, blanks: bool):
        self.newlines = 0
        self.ends_with_newline = False
        self.blank_lines: int | None = 0 if blanks else None
        self._blank_so_far = True  # the current, unfinished line is whitespace so far
        self._empty = True

    def feed(self, block: bytes) -> None:
        count = block.count(b"\n")
        self.newlines += count
        self.ends_with_newline = block.endswith(b"\n")
        self._empty = False
        if self.blank_lines is None:
            return
        if not count:
            self._blank_so_far = self._blank_so_far and not _NOT_SPACE.search(block)
            return
        first, last = block.index(b"\n"), block.rindex(b"\n")
        if self._blank_so_far and not _NOT_SPACE.search(block, 0, first):
            self.blank_lines += 1
        self.blank_lines += len(_BLANK_LINE.findall(block, first, last + 1))
        self._blank_so_far = not _NOT_SPACE.search(block, last + 1)

    @property
    def lines(self) -> int:
        """Physical lines: line breaks, plus a last line without one."""
        return self.newlines + (0 if self._empty or self.ends_with_newline else 1)

    def finish(self) -> LineCount:
        if self.blank_lines is not None and not self._empty and not self.ends_with_newline and self._blank_so_far:
            self.blank_lines += 1
        return self


def first_bad_utf8_offset(path, *, chunk: int = BLOCK) -> int | None:
    """Byte offset of the first byte that is not valid UTF-8 (None if the file is valid)."""
    check = Utf8Check()
    for block in blocks(path, chunk):
        check.feed(block)
        if check.bad is not None:
            return check.bad
    check.feed(b"", final=True)
    return check.bad


@dataclass(frozen=True)
class FileScan:
    """What one read of a file's bytes tells: its sha256 and size; for text formats the first byte that
    is not UTF-8 and its line breaks; and the problems with its declared checksum or HMAC signature."""

    sha256: str
    size: int
    bad_utf8_offset: int | None = None
    newlines: int = 0
    ends_with_newline: bool = False
    blank_lines: int | None = None  # counted for jsonl only
    signature_problems: list[str] = field(default_factory=list)

    @property
    def lines(self) -> int:
        return self.newlines + (0 if self.size == 0 or self.ends_with_newline else 1)


def scan_file(
    path,
    *,
    sha256: str | None = None,
    hmac_key: bytes | None = None,
    hmac_hex: str | None = None,
    fmt: str | None = None,
    block: int = BLOCK,
) -> FileScan:
    """Read the file once: sha256 and size; unless fmt is parquet, the UTF-8 check and line breaks
    (blank lines too for jsonl); and whether the declared `sha256` and the HMAC-SHA256 signature
    `hmac_hex` (under `hmac_key`) match. signature_problems is [] when everything given matches."""
    problems: list[str] = []
    if hmac_hex is not None and hmac_key is None:
        problems.append("The file carries an HMAC signature but no key is configured to check it.")
    if hmac_key is not None and not hmac_hex:
        problems.append("HMAC signature missing: the file was expected to be signed.")
    digest = hashlib.sha256()
    mac = hmac.new(hmac_key, digestmod=hashlib.sha256) if hmac_key is not None and hmac_hex else None
    text = fmt != "parquet"
    utf8 = Utf8Check() if text else None
    lines = LineCount(blanks=fmt == "jsonl") if text else None
    size = 0
    for data in blocks(path, block):
        digest.update(data)
        if mac is not None:
            mac.update(data)
        if utf8 is not None:
            utf8.feed(data)
            lines.feed(data)
        size += len(data)
    actual = digest.hexdigest()
    if sha256 is not None and not hmac.compare_digest(actual, sha256.strip().lower()):
        problems.append(f"sha256 differs: expected {sha256.strip().lower()}, the file has {actual}.")
    if mac is not None and not hmac.compare_digest(mac.hexdigest(), hmac_hex.strip().lower()):
        problems.append("HMAC signature does not match: the file was altered or signed with another key.")
    if utf8 is None:
        return FileScan(actual, size, signature_problems=problems)
    utf8.feed(b"", final=True)
    lines.finish()
    return FileScan(actual, size, utf8.bad, lines.newlines, lines.ends_with_newline, lines.blank_lines, problems)


def count_lines(path, *, blanks: bool = False) -> LineCount:
    """Line breaks, and (blanks=True) whitespace-only lines, of a file."""
    lines = LineCount(blanks=blanks)
    for block in blocks(path, 1 << 22):
        lines.feed(block)
    return lines.finish()
