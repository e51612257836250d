"""API v1's OpenAPI schema, made to say what the API does (schemathesis checks it in CI).

- Every operation documents the errors it answers with, in the one error shape of `mlops.errors`:
  401 and 403 always; 400 when it reads a body or query parameters; 404 when its path, body or
  query names something or it answers pages; 409 when it writes (the state forbids the change); 413 when it
  reads a body. A view adds other statuses with `responses={410: ERROR}`.
- A GET answered by `KeelAPIView.list_response` (decorated with `list_schema`) is documented as one
  page of the pagination class, with its `page` and `page_size` parameters.
- A view that names no parsers documents JSON bodies only; upload views name theirs.
- A `StrictSerializer`'s request body admits no unknown fields (`additionalProperties: false`), as
  the serializer refuses them; a serializer's `openapi_extra` adds the rules across its fields.
- A text field that trims its value and refuses it blank says so with `NOT_BLANK` (something besides
  whitespace); every text field refuses the NUL character.
- The schema is OpenAPI 3.1 (JSON Schema): null is a type. `json_schema_nulls` rewrites what
  DRF's pagination and drf-spectacular still say in 3.0's words (`nullable: true`, and
  `oneOf: [{}, {type: null}]`, which a null would match twice).
"""

import django_filters
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.settings import api_settings

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class ErrorOut(serializers.Serializer):
    message = serializers.CharField(help_text="What went wrong, for people.")
    detail = serializers.DictField(
        help_text="The fields at fault, each with its messages: {field: [...]}; empty when no field is.",
    )


ERROR = OpenApiResponse(ErrorOut, description="The request was refused: the message says why.")

ERROR_DESCRIPTIONS = {
    400: "The request is malformed or breaks a rule: `detail` names the fields at fault.",
    401: "No credentials, or a token that is not valid.",
    403: "The caller's role does not grant this.",
    404: "Nothing at this address, no such page of the list, or nothing by a name the request gives.",
    409: "The current state forbids the change (a name taken, a request already decided, ...).",
    413: "The body or the uploaded file is over its limit.",
}


def _error(status: int) -> OpenApiResponse:
    return OpenApiResponse(ErrorOut, description=ERROR_DESCRIPTIONS[status])


def list_schema(serializer_class, filterset_class=None, parameters=(), **kwargs):
    """The schema of a GET answered by `KeelAPIView.list_response`: a page of `serializer_class`,
    filtered by `filterset_class`."""
    decorate = extend_schema(
        responses=serializer_class(many=True),
        parameters=[*filter_parameters(filterset_class), *parameters],
        **kwargs,
    )

    def decorator(method):
        method = decorate(method)
        method.keel_paginated = True
        return method

    return decorator


def upload_request(serializer_class) -> dict:
    """The two shapes of a body that brings one data file: multipart with the `file`, or JSON naming
    a `storage_path` under the data root (never both: `mlops.datafiles.storage.one_source_name`)."""
    fields = serializer_class().get_fields()
    shared = {name: field for name, field in fields.items() if name not in ("file", "storage_path")}
    # A form sends text: it has no null (leaving the field out means the same).
    in_form = {
        name: type(field)(*field._args, **{**field._kwargs, "allow_null": False}) if field.allow_null else field
        for name, field in shared.items()
    }
    name = serializer_class.__name__.removesuffix("In")

    def variant(suffix, fields, **source):
        return type(f"{name}{suffix}In", (serializer_class,), {"__doc__": serializer_class.__doc__, **fields, **source})

    return {
        "multipart/form-data": variant("File", in_form, file=serializers.FileField(), storage_path=None),
        "application/json": variant(
            "Path",
            shared,
            file=None,
            storage_path=serializers.CharField(max_length=500, min_length=1, help_text="A path under the data root."),
        ),
    }


def filter_parameters(filterset_class) -> list[OpenApiParameter]:
    """Document a FilterSet's query parameters (with their types and choices) for a plain APIView."""
    if filterset_class is None:
        return []
    return [
        OpenApiParameter(name, **_filter_type(f), description=str(f.label or f.field_name).capitalize())
        for name, f in filterset_class.base_filters.items()
    ]


def _filter_type(f) -> dict:
    if isinstance(f, django_filters.ChoiceFilter):
        choices = f.extra.get("choices", ())
        choices = choices() if callable(choices) else choices
        return {"type": str, "enum": [""] + [str(value) for value, _ in choices]}
    if isinstance(f, django_filters.IsoDateTimeFilter | django_filters.DateTimeFilter):
        return {"type": {"type": "string", "format": "date-time"}}
    if isinstance(f, django_filters.BooleanFilter):
        return {"type": bool}
    if isinstance(f, django_filters.NumberFilter):
        return {"type": float}
    return {"type": {"type": "string", "pattern": NO_NUL}}


class KeelAutoSchema(AutoSchema):
    def map_parsers(self):
        # A view that names no parsers of its own takes JSON bodies: the form parsers the settings
        # also list are there for the browsable forms, not the API's contract.
        if "parser_classes" not in vars(type(self.view)):
            return ["application/json"]
        return super().map_parsers()

    def _is_paginated(self) -> bool:
        handler = getattr(self.view, self.method.lower(), None)
        return self.method == "GET" and getattr(handler, "keel_paginated", False)

    def _get_paginator(self):
        return api_settings.DEFAULT_PAGINATION_CLASS() if self._is_paginated() else None

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status in self._error_statuses():
            responses.setdefault(str(status), self._get_response_for_code(_error(status), str(status)))
        return dict(sorted(responses.items()))

    def _error_statuses(self) -> list[int]:
        reads_body = self.method in BODY_METHODS and self.get_request_serializer() is not None
        names_something = "{" in self.path
        paginated = self._is_paginated()
        has_query = paginated or any(
            getattr(p, "location", "query") == "query" for p in self.get_override_parameters() or ()
        )
        statuses = [401, 403]
        if reads_body or has_query:
            statuses.append(400)
        if names_something or paginated or reads_body or has_query:
            statuses.append(404)
        if self.method in BODY_METHODS:
            statuses.append(409)
        if reads_body:
            statuses.append(413)
        return statuses

    def _map_basic_serializer(self, serializer, direction):
        from .api import StrictSerializer

        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(force_instance(serializer), StrictSerializer):
            schema["additionalProperties"] = False
        if direction == "request":
            fields = force_instance(serializer).fields
            for name, prop in schema.get("properties", {}).items():
                if _trimmed_not_blank(fields.get(name)) and "pattern" not in prop and "enum" not in prop:
                    prop["pattern"] = NOT_BLANK
                _refuse_nul(prop)
            # Rules across fields that JSON Schema can say (e.g. "at least one of").
            schema.update(getattr(serializer, "openapi_extra", {}))
        return schema


NO_NUL = "^[^\\x00]*$"
# What str.strip() (and so DRF's trim_whitespace) removes, spelled out: `\s` differs between regex
# dialects (ECMA's has U+FEFF and lacks U+001C-U+001F and U+0085).
SPACE = "\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
NOT_BLANK = f"^[^\\x00]*[^\\x00{SPACE}][^\\x00]*$"
"""Text with something besides whitespace and no NUL."""


def _trimmed_not_blank(field) -> bool:
    """A CharField that trims its value and refuses it blank: whitespace alone is refused."""
    return (
        isinstance(field, serializers.CharField)
        and field.trim_whitespace
        and not field.allow_blank
        and not isinstance(field, serializers.ChoiceField)
    )


def _refuse_nul(schema: dict) -> None:
    """Text fields refuse the NUL character (DRF's and Django's CharFields do): say so."""
    types = schema.get("type")
    is_text = types == "string" or (isinstance(types, list) and "string" in types)
    if is_text and not ({"pattern", "format", "enum"} & set(schema)):
        schema["pattern"] = NO_NUL
    elif schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        _refuse_nul(schema["items"])


def json_schema_nulls(result, generator, request, public):
    """Postprocessing hook: say null as OpenAPI 3.1 does wherever 3.0's words remain."""
    pending = [result]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if node.pop("nullable", False):
            types = node.get("type")
            if isinstance(types, str):
                node["type"] = [types, "null"]
            elif isinstance(types, list) and "null" not in types:
                types.append("null")
            elif "anyOf" in node:
                node["anyOf"].append({"type": "null"})
        if node.get("oneOf") == [{}, {"type": "null"}]:
            del node["oneOf"]  # any JSON value, null included
        pending.extend(node.values())
    return result
