import hashlib

from django.core.files.uploadedfile import SimpleUploadedFile

from tests.artifacts import skops_artifact


def artifact_file(content: bytes | None = None, name: str = "model.skops"):
    """An upload and its true sha256, as a pipeline would send them: by default a tiny real skops model."""
    content = skops_artifact() if content is None else content
    return SimpleUploadedFile(name, content, content_type="application/octet-stream"), hashlib.sha256(
        content
    ).hexdigest()
