"""Check a JSON body against the request schema API v1 publishes, as a client's validator would."""

from functools import cache

import jsonschema
from drf_spectacular.generators import SchemaGenerator


@cache
def _published() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def body_schema(method: str, path: str) -> dict:
    """The JSON request body schema of an operation, with the components its references name."""
    schema = _published()
    operation = schema["paths"][path][method.lower()]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in body:
        body = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
    return {**body, "components": schema["components"]}


def schema_admits(method: str, path: str, body) -> bool:
    """Whether the published schema says `body` is a valid request (OpenAPI 3.1: JSON Schema 2020-12)."""
    return jsonschema.Draft202012Validator(body_schema(method, path)).is_valid(body)
