"""Reading an MLflow request the way protobuf's JSON mapping reads it, with Keel's strictness.

Each endpoint declares its request message as `{name: Field}` (the proto's own field names). GET
requests carry the fields in the query string (a repeated field as a repeated key); POST, PATCH and
DELETE in a JSON object. Whatever does not fit is INVALID_PARAMETER_VALUE (400), never a 500: an
unknown field, text where a number belongs, a number beyond int64, a nested object where text
belongs. Absent fields (and JSON null, which protobuf reads as absent) are left out of the result,
so an endpoint tells "not sent" from "sent empty"."""

import math
from dataclasses import dataclass, field

from .errors import INVALID_PARAMETER_VALUE, MlflowError

__all__ = ["Field", "string", "int64", "int32", "double", "boolean", "enum", "message", "read_message", "read_query"]

INT64 = (-(2**63), 2**63 - 1)
INT32 = (-(2**31), 2**31 - 1)
SPECIAL_DOUBLES = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


@dataclass(frozen=True)
class Field:
    kind: str  # string, int64, int32, double, bool, enum, message
    repeated: bool = False
    required: bool = False
    choices: tuple[str, ...] = ()
    fields: dict = field(default_factory=dict)  # a message's own fields


def string(**kw) -> Field:
    return Field("string", **kw)


def int64(**kw) -> Field:
    return Field("int64", **kw)


def int32(**kw) -> Field:
    return Field("int32", **kw)


def double(**kw) -> Field:
    return Field("double", **kw)


def boolean(**kw) -> Field:
    return Field("bool", **kw)


def enum(*choices: str, **kw) -> Field:
    return Field("enum", choices=choices, **kw)


def message(fields: dict, **kw) -> Field:
    return Field("message", fields=fields, **kw)


def _bad(name: str, value, what: str) -> MlflowError:
    shown = repr(value)
    if len(shown) > 100:
        shown = shown[:100] + "…"
    return MlflowError(INVALID_PARAMETER_VALUE, f"Invalid value {shown} for parameter '{name}' supplied: {what}.")


def _integer(name: str, value, bounds: tuple[int, int]) -> int:
    # Protobuf JSON takes an int64 as a number or as its decimal text.
    if isinstance(value, bool):
        raise _bad(name, value, "expected a whole number")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        text = value.strip()
        if not text.lstrip("-").isdigit() or len(text) > 20:
            raise _bad(name, value, "expected a whole number")
        value = int(text)
    if not isinstance(value, int):
        raise _bad(name, value, "expected a whole number")
    if not bounds[0] <= value <= bounds[1]:
        raise _bad(name, value, f"out of range ({bounds[0]} to {bounds[1]})")
    return value


def _double(name: str, value) -> float:
    if isinstance(value, str):
        if value in SPECIAL_DOUBLES:
            return SPECIAL_DOUBLES[value]
        try:
            value = float(value)
        except ValueError:
            raise _bad(name, value, "expected a number") from None
        if not math.isfinite(value):
            raise _bad(name, value, 'expected a number ("NaN", "Infinity" and "-Infinity" spelled so)')
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(name, value, "expected a number")
    try:
        return float(value)
    except OverflowError:
        raise _bad(name, value, "out of range for a double") from None


def _boolean(name: str, value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _bad(name, value, "expected true or false")


def _scalar(name: str, spec: Field, value):
    if spec.kind in ("string", "enum"):
        if not isinstance(value, str):
            raise _bad(name, value, "expected text")
        if "\x00" in value:
            # The database stores no NUL (PostgreSQL refuses it in any query): refused here, as API v1 does.
            raise _bad(name, value, "text may not contain the NUL character")
        if spec.kind == "enum" and value not in spec.choices:
            raise _bad(name, value, f"expected one of {', '.join(spec.choices)}")
        return value
    if spec.kind == "int64":
        return _integer(name, value, INT64)
    if spec.kind == "int32":
        return _integer(name, value, INT32)
    if spec.kind == "double":
        return _double(name, value)
    if spec.kind == "bool":
        return _boolean(name, value)
    if spec.kind == "message":
        if not isinstance(value, dict):
            raise _bad(name, value, "expected an object")
        return read_message(value, spec.fields, prefix=f"{name}.")
    raise AssertionError(spec.kind)


def _check_required(data: dict, spec: dict, prefix: str) -> None:
    for name, declared in spec.items():
        if declared.required and (name not in data or data[name] in ("", [])):
            raise MlflowError(INVALID_PARAMETER_VALUE, f"Missing value for required parameter '{prefix}{name}'.")


def read_message(data, spec: dict[str, Field], *, prefix: str = "") -> dict:
    """A JSON object read against `spec`: {name: value} for the fields sent."""
    if not isinstance(data, dict):
        raise MlflowError(INVALID_PARAMETER_VALUE, "The request body must be a JSON object.")
    unknown = sorted(set(data) - set(spec))
    if unknown:
        raise MlflowError(INVALID_PARAMETER_VALUE, f"Unknown field '{prefix}{unknown[0]}' in the request.")
    out = {}
    for name, value in data.items():
        declared, full = spec[name], prefix + name
        if value is None:
            continue
        if declared.repeated:
            if not isinstance(value, list):
                raise _bad(full, value, "expected a list")
            out[name] = [_scalar(f"{full}[{i}]", declared, item) for i, item in enumerate(value) if item is not None]
        else:
            out[name] = _scalar(full, declared, value)
    _check_required(out, spec, prefix)
    return out


def read_query(query, spec: dict[str, Field]) -> dict:
    """A query string (a QueryDict) read against `spec`: repeated keys fill repeated fields."""
    unknown = sorted(set(query) - set(spec))
    if unknown:
        raise MlflowError(INVALID_PARAMETER_VALUE, f"Unknown field '{unknown[0]}' in the request.")
    out = {}
    for name in query:
        declared, values = spec[name], query.getlist(name)
        if declared.kind == "message":
            raise _bad(name, values, "objects are sent in a JSON body")
        if declared.repeated:
            out[name] = [_scalar(name, declared, v) for v in values]
        elif len(values) > 1:
            raise _bad(name, values, "expected one value")
        else:
            out[name] = _scalar(name, declared, values[0])
    _check_required(out, spec, "")
    return out
