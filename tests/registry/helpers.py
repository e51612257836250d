import hashlib

from django.core.files.uploadedfile import SimpleUploadedFile


def artifact_file(content: bytes = b"pickled-model-bytes", name: str = "model.joblib"):
    """An upload and its true sha256, as a pipeline would send them."""
    return SimpleUploadedFile(name, content, content_type="application/octet-stream"), hashlib.sha256(
        content
    ).hexdigest()
