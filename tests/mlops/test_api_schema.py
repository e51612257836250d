"""The published API does not change by accident.

`/api/schema/` is compared byte for byte with the stored copy `tests/mlops/openapi.yaml`. When the
API changes on purpose, regenerate the copy and commit it with the change:

    KEEL_WRITE_API_SCHEMA=1 .venv/bin/python -m pytest tests/mlops/test_api_schema.py
"""

import os
from pathlib import Path

STORED = Path(__file__).with_name("openapi.yaml")


def test_the_served_api_schema_equals_the_stored_copy(api_as, reviewer):
    response = api_as(reviewer).get("/api/schema/")
    assert response.status_code == 200
    served = b"".join(response.streaming_content) if response.streaming else response.content
    if os.environ.get("KEEL_WRITE_API_SCHEMA") == "1":
        STORED.write_bytes(served)
    stored = STORED.read_bytes()
    assert served == stored, (
        "The OpenAPI schema changed. If the API change is deliberate, regenerate tests/mlops/openapi.yaml "
        "(see this module's docstring) and commit it with the change."
    )
