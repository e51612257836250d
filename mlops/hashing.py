"""sha256 of files and streams, read in 1 MiB blocks so memory stays flat whatever the size.

Pure Python, no Django: the audit engine and the data-file reader use it too.
"""

import hashlib
from pathlib import Path

BLOCK = 1 << 20


class StreamDigest:
    """sha256 and byte count of blocks fed one at a time, for code that already loops over a file."""

    __slots__ = ("_digest", "size")

    def __init__(self):
        self._digest = hashlib.sha256()
        self.size = 0

    def update(self, block: bytes) -> None:
        self._digest.update(block)
        self.size += len(block)

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def sha256_stream(handle, *, block: int = BLOCK) -> tuple[str, int]:
    """(sha256 hexdigest, size) of a binary handle from its current position to the end; a seekable
    handle is rewound to its start afterwards, ready to be read again."""
    digest = StreamDigest()
    while chunk := handle.read(block):
        digest.update(chunk)
    seekable = getattr(handle, "seekable", None)
    if seekable is None or seekable():
        handle.seek(0)
    return digest.hexdigest(), digest.size


def sha256_file(path: str | Path) -> str:
    """sha256 hexdigest of the file at `path`."""
    with open(path, "rb") as handle:
        return sha256_stream(handle)[0]
