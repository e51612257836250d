"""Data files Keel reads: `scanning` (pure: one read of the bytes for checksums, UTF-8 and lines),
`reading` (pure: formats, columns, row counts, chunks, frames; JSON lines in `jsonl`) and `storage`
(Django: paths under KEEL_DATA_ROOT, uploads). Only the pure names are exported here, so that importing the reader never
loads Django; import storage's as `from mlops.datafiles.storage import ...`."""

from .reading import *  # noqa: F403 (the pure names; scanning's are re-exported by reading)
from .reading import __all__  # noqa: F401 (the same public names)
