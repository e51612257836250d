"""The published API does not change by accident.

`/api/schema/` is compared byte for byte with the stored copy for the database in use:
`tests/mlops/openapi.postgresql.yaml` (what production serves) or `openapi.sqlite.yaml` (the
quick start). The two differ only in the integer ranges Django reads from the database backend
(a PositiveIntegerField tops out at 2**31 - 1 on PostgreSQL, 2**63 - 1 on SQLite). When the API
changes on purpose, regenerate both copies and commit them with the change:

    KEEL_WRITE_API_SCHEMA=1 ./run test tests/mlops/test_api_schema.py     # PostgreSQL
    KEEL_WRITE_API_SCHEMA=1 ./run unit tests/mlops/test_api_schema.py     # SQLite
"""

import os
from pathlib import Path

from django.db import connection


def stored_copy() -> Path:
    return Path(__file__).with_name(f"openapi.{connection.vendor}.yaml")


def test_the_served_api_schema_equals_the_stored_copy(api_as, reviewer):
    response = api_as(reviewer).get("/api/schema/")
    assert response.status_code == 200
    served = b"".join(response.streaming_content) if response.streaming else response.content
    stored = stored_copy()
    if os.environ.get("KEEL_WRITE_API_SCHEMA") == "1":
        stored.write_bytes(served)
    assert served == stored.read_bytes(), (
        f"The OpenAPI schema changed. If the API change is deliberate, regenerate {stored.name} and its "
        "sibling (see this module's docstring) and commit them with the change."
    )
