"""What a model artifact is, read from its bytes without loading it.

A skops file (a zip holding skops' `schema.json`) names every type it would build; it is trusted
when each of them is: skops' own defaults, classes from scikit-learn, numpy and scipy, and the
deployer's names in `extra_trusted` (exact paths or module prefixes). Anything else is treated as a
pickle (joblib included), that is, as code: `pickle_globals` lists what it would import, by
reading its opcodes, never by loading it.
"""

import _compat_pickle
import importlib
import io
import pickletools
import zipfile

import skops.io

__all__ = [
    "SKOPS",
    "PICKLE",
    "FORMATS",
    "COMPRESSED_JOBLIB",
    "TRUSTED_PACKAGES",
    "ArtifactFormatError",
    "sniff",
    "untrusted_types",
    "trusted_types",
    "pickle_globals",
    "describe_pickle",
]

SKOPS = "skops"
PICKLE = "pickle"
FORMATS = (SKOPS, PICKLE)
COMPRESSED_JOBLIB = "compressed joblib"
# Packages whose classes (not functions: numpy.load or numpy.ctypeslib.load_library are functions)
# a skops file may build without anyone naming them.
TRUSTED_PACKAGES = ("sklearn", "numpy", "scipy")
SKOPS_SCHEMA = "schema.json"

# joblib's compressors, by the magic bytes their files start with.
_COMPRESSED_MAGIC = (
    b"ZF",  # joblib's own zlib container (old format)
    b"\x78",  # zlib
    b"\x1f\x8b",  # gzip
    b"BZh",  # bz2
    b"\xfd7zXZ",  # xz
    b"\x5d\x00\x00",  # lzma (alone)
    b"\x04\x22\x4d\x18",  # lz4
)
_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING"}
_GET_OPS = {"GET", "BINGET", "LONG_BINGET"}
_PUT_OPS = {"PUT", "BINPUT", "LONG_BINPUT"}
_SILENT_OPS = {"PROTO", "FRAME", "MEMOIZE", *_PUT_OPS}


class ArtifactFormatError(ValueError):
    """The bytes claim to be a skops file but skops cannot read which types they hold."""


def sniff(raw: bytes) -> str:
    """ "skops" for a zip holding skops' schema, "pickle" for anything else."""
    if not raw.startswith(b"PK"):
        return PICKLE
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            return SKOPS if SKOPS_SCHEMA in archive.namelist() else PICKLE
    except (zipfile.BadZipFile, ValueError, OSError):
        return PICKLE


def _is_trusted_class(name: str) -> bool:
    if name.split(".", 1)[0] not in TRUSTED_PACKAGES:
        return False
    module_name, _, attribute = name.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError):
        return False
    return isinstance(found, type)


def _named(name: str, extra_trusted) -> bool:
    return any(name == entry or name.startswith(entry.rstrip(".") + ".") for entry in extra_trusted if entry)


def _reported(raw: bytes) -> list[str]:
    try:
        return list(skops.io.get_untrusted_types(data=raw))
    except Exception as exc:  # a damaged archive or schema: skops says why
        raise ArtifactFormatError(f"skops cannot read the file's types: {exc}") from exc


def untrusted_types(raw: bytes, extra_trusted=()) -> list[str]:
    """The types of a skops file that nobody trusts: not skops' defaults, not a scikit-learn, numpy or
    scipy class, not named in `extra_trusted`."""
    return [name for name in _reported(raw) if not (_named(name, extra_trusted) or _is_trusted_class(name))]


def trusted_types(raw: bytes, extra_trusted=()) -> list[str]:
    """The types beyond skops' defaults that this file may build: the list for `skops.io.loads(trusted=...)`."""
    return [name for name in _reported(raw) if _named(name, extra_trusted) or _is_trusted_class(name)]


def _compressed(raw: bytes) -> bool:
    return not raw.startswith(b"\x80") and raw.startswith(_COMPRESSED_MAGIC)


def _dotted(module: str, attribute: str = "") -> str:
    # Protocols 0-2 spell Python 2 names (__builtin__.exec); unpickling maps them back, and so do we.
    module, attribute = _compat_pickle.NAME_MAPPING.get((module, attribute), (module, attribute))
    return f"{_compat_pickle.IMPORT_MAPPING.get(module, module)}.{attribute}"


def pickle_globals(raw: bytes, limit: int = 20) -> list[str]:
    """The module.name globals a pickle would import, in order, at most `limit` of them.

    Read from the opcodes, never by unpickling. The scan stops at the first byte that is not an
    opcode (joblib writes array bytes into the stream), so the list is what the readable part
    imports. A compressed joblib file is not opened: the answer is ["compressed joblib"].
    """
    if _compressed(raw):
        return [COMPRESSED_JOBLIB]
    found: list[str] = []
    memo: dict[int, object] = {}
    recent: list[object] = []
    try:
        for opcode, arg, _position in pickletools.genops(io.BytesIO(raw)):
            name = opcode.name
            if name in ("GLOBAL", "INST"):
                found.append(_dotted(*str(arg).split(" ", 1)))
            elif name == "STACK_GLOBAL":
                named = len(recent) == 2 and all(isinstance(part, str) for part in recent)
                found.append(_dotted(*recent) if named else "?")
            if name in _STRING_OPS:
                recent.append(arg if isinstance(arg, str) else str(arg))
            elif name in _GET_OPS:
                recent.append(memo.get(arg))
            elif name == "MEMOIZE":
                memo[len(memo)] = recent[-1] if recent else None
            elif name in _PUT_OPS:
                memo[arg] = recent[-1] if recent else None
            elif name not in _SILENT_OPS:
                recent.append(None)
            del recent[:-2]
            if name == "STOP":
                break
    except Exception:  # the unreadable rest (array bytes, damage) is not inspected
        pass
    return list(dict.fromkeys(found))[:limit]


def describe_pickle(raw: bytes, limit: int = 8) -> str:
    """What loading the pickle would import, in words for a refusal message ("" when no import is readable)."""
    found = pickle_globals(raw, limit=limit + 1)
    if found == [COMPRESSED_JOBLIB]:
        return "it is compressed joblib, so what it would import is known only by running it"
    if not found:
        return ""
    more = ", …" if len(found) > limit else ""
    return f"it would import {', '.join(found[:limit])}{more}"
