"""The artifact paths the MLflow artifact proxy accepts, checked before anything touches storage.

A path is `<experiment id>/<run id>/artifacts[/<name>/…]` (a run's files) or
`<experiment id>/models/<logged model id>/artifacts[/<name>/…]` (an MLflow 3 logged model's, as
`log_model` uploads them): the part after `artifacts` is the client's name for a file inside the
owner's artifact root. Keel never builds a file-system path from
it (the bytes live under a name Keel picks, registry.services.run_artifacts), and still refuses
everything MLflow's path traversal fixes refuse, and more: the text is URL-decoded until it stops
changing (double and triple encodings included) and then must have no `..` or `.` segment, no empty
segment, no leading `/` (absolute POSIX), no drive letter or URI scheme (`C:`, `file:`; no colon at
all), no backslash (`C:\\x`, `\\\\server`), no `#` (fragment smuggling), no `;` (path parameters), no
`?`, and no NUL or other control character."""

from dataclasses import dataclass
from urllib.parse import unquote

from .errors import INVALID_PARAMETER_VALUE, MlflowError

__all__ = ["ArtifactLocation", "clean_relative_path", "artifact_location"]

MAX_PATH_CHARS = 1000
NAME_MAX_BYTES = 255
# More rounds than this and the text is still changing: nobody encodes a name that often.
MAX_DECODINGS = 5
FORBIDDEN = {
    "\\": "a backslash",
    "#": "'#'",
    ";": "';'",
    ":": "a colon (drive letters and URI schemes are not paths)",
    "?": "'?'",
}


@dataclass(frozen=True)
class ArtifactLocation:
    experiment_id: int
    run_id: str  # "" for a logged model's files
    path: str  # inside the owner's artifact root; "" is the root itself
    model_id: str = ""  # a logged model's `m-<32 hex>`, or "" for a run's files


def _refuse(raw: str, why: str) -> MlflowError:
    shown = raw if len(raw) <= 100 else raw[:100] + "…"
    return MlflowError(INVALID_PARAMETER_VALUE, f"Invalid artifact path {shown!r}: {why}.")


def _decoded(raw: str) -> str:
    text = raw
    for _ in range(MAX_DECODINGS):
        decoded = unquote(text, errors="strict") if "%" in text else text
        if decoded == text:
            return text
        text = decoded
    raise _refuse(raw, "it is URL-encoded too many times")


def clean_relative_path(raw: str, *, allow_empty: bool = False) -> str:
    """`raw` checked as a relative artifact path; returns it decoded, without a trailing slash."""
    if not isinstance(raw, str):
        raise _refuse(str(raw), "expected text")
    try:
        text = _decoded(raw)
    except UnicodeDecodeError:
        raise _refuse(raw, "it does not decode to UTF-8 text") from None
    if len(text) > MAX_PATH_CHARS:
        raise _refuse(raw, f"it is longer than {MAX_PATH_CHARS} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise _refuse(raw, "it contains NUL or another control character")
    for char, name in FORBIDDEN.items():
        if char in text:
            raise _refuse(raw, f"it contains {name}")
    if text.startswith("/"):
        raise _refuse(raw, "it is an absolute path")
    text = text.removesuffix("/")
    if not text:
        if allow_empty:
            return ""
        raise _refuse(raw, "it is empty")
    for segment in text.split("/"):
        if segment in ("", ".", ".."):
            raise _refuse(raw, "it has an empty, '.' or '..' segment")
        if len(segment.encode("utf-8", "surrogatepass")) > NAME_MAX_BYTES:
            raise _refuse(raw, f"a name in it is longer than {NAME_MAX_BYTES} bytes")
    return text


def artifact_location(raw: str, *, allow_root: bool = False) -> ArtifactLocation:
    """Where `raw` (`<experiment id>/<run id>/artifacts[/…]`, or a logged model's
    `<experiment id>/models/<model id>/artifacts[/…]`) points. `allow_root`: the run's
    artifact root itself (a listing, a delete of everything) is accepted."""
    text = clean_relative_path(raw)
    if text.split("/", 2)[1:2] == ["models"]:
        return _logged_model_location(raw, text, allow_root)
    parts = text.split("/", 3)
    if len(parts) < 3 or parts[2] != "artifacts" or not _is_experiment_id(parts[0]):
        raise _refuse(raw, "expected '<experiment id>/<run id>/artifacts/<path>'")
    run_id = parts[1]
    if not _is_hex32(run_id):
        raise _refuse(raw, "the run id is not a run id")
    path = parts[3] if len(parts) == 4 else ""
    if not path and not allow_root:
        raise _refuse(raw, "it names the run's artifact root, not a file")
    return ArtifactLocation(experiment_id=int(parts[0]), run_id=run_id, path=path)


def _is_experiment_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 18


def _is_hex32(text: str) -> bool:
    return len(text) == 32 and all(c in "0123456789abcdef" for c in text)


def _logged_model_location(raw: str, text: str, allow_root: bool) -> ArtifactLocation:
    """`<experiment id>/models/<m-32 hex>/artifacts[/…]`: the same rule, for a logged model's root."""
    parts = text.split("/", 4)
    if len(parts) < 4 or parts[3] != "artifacts" or not _is_experiment_id(parts[0]):
        raise _refuse(raw, "expected '<experiment id>/models/<model id>/artifacts/<path>'")
    model_id = parts[2]
    if not (model_id.startswith("m-") and _is_hex32(model_id[2:])):
        raise _refuse(raw, "the model id is not a logged model's id")
    path = parts[4] if len(parts) == 5 else ""
    if not path and not allow_root:
        raise _refuse(raw, "it names the logged model's artifact root, not a file")
    return ArtifactLocation(experiment_id=int(parts[0]), run_id="", path=path, model_id=model_id)
