"""Base pieces every Keel API v1 view and serializer builds on."""

import django_filters
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from .parsers import keel_parser_classes
from .roles import ActionPermission


class StrictSerializer(serializers.Serializer):
    """An input serializer that names unknown fields instead of silently dropping them: a pipeline
    that misspells `decision_threshold` hears about it rather than registering a version without one."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
            # DRF turns a number or a boolean sent for a text field into its text; the schema says text.
            not_text = [
                name
                for name, field in self.fields.items()
                if (isinstance(field, serializers.CharField) and not _is_text(data.get(name)))
                or (
                    isinstance(field, serializers.ListField)
                    and isinstance(field.child, serializers.CharField)
                    and isinstance(data.get(name), list)
                    and not all(isinstance(item, str) for item in data[name])
                )
            ]
            if not_text:
                raise serializers.ValidationError({name: ["Send text."] for name in not_text})
            # ... and a boolean sent for a number into 0 or 1 (a form's values are all text: skipped).
            not_number = [
                name
                for name, field in self.fields.items()
                if isinstance(field, serializers.IntegerField | serializers.FloatField | serializers.DecimalField)
                and isinstance(data.get(name), bool)
            ]
            if not_number:
                raise serializers.ValidationError({name: ["Send a number."] for name in not_number})
            # ... and a number sent for a boolean into True or False.
            not_boolean = [
                name
                for name, field in self.fields.items()
                if isinstance(field, serializers.BooleanField)
                and isinstance(data.get(name), int | float)
                and not isinstance(data.get(name), bool)
            ]
            if not_boolean:
                raise serializers.ValidationError({name: ["Send true or false."] for name in not_boolean})
        return super().to_internal_value(data)


@extend_schema_field({"type": "object"})
class JSONObjectField(serializers.JSONField):
    """A JSON object (documented so; its checks are the caller's)."""


def _is_text(value) -> bool:
    return value is None or isinstance(value, str)


def optional_text(*, max_length: int | None = None, help_text: str | None = None) -> serializers.CharField:
    """Text the caller may leave out: blank ("") then."""
    return serializers.CharField(
        max_length=max_length, required=False, allow_blank=True, default="", help_text=help_text
    )


def optional_whole_number(*, min_value: int, help_text: str | None = None) -> serializers.IntegerField:
    """A whole number the caller may leave out or send as null: None then."""
    return serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=min_value, help_text=help_text
    )


def optional_hex64(*, help_text: str) -> serializers.RegexField:
    """64 hexadecimal digits (a sha256 or an HMAC-SHA256) the caller may leave out: blank ("") then."""
    return serializers.RegexField(
        r"^[0-9a-fA-F]{64}$", required=False, allow_blank=True, default="", help_text=help_text
    )


class KeelAPIView(APIView):
    """Authenticated by token or session; each HTTP method names the permission it needs."""

    permission_classes = [ActionPermission]
    required_permissions: dict[str, str] = {}

    def get_parsers(self):
        # JSON is read by mlops.parsers.JSONParser (nesting bounded) whichever parsers a view names.
        return [parser() for parser in keel_parser_classes(self.parser_classes)]

    def list_response(self, request, queryset, serializer_class, filterset_class=None):
        """Filter (400 naming the bad filter), paginate and serialize a list."""
        if filterset_class is not None:
            blank = _blank_filters(filterset_class, request.query_params)
            if blank:
                raise serializers.ValidationError({name: ["Give a value, or leave the filter out."] for name in blank})
            filterset = filterset_class(request.query_params, queryset=queryset, request=request)
            if not filterset.is_valid():
                raise serializers.ValidationError(filterset.errors)
            queryset = filterset.qs
        paginator = api_settings.DEFAULT_PAGINATION_CLASS()
        page = paginator.paginate_queryset(queryset, request, view=self)
        data = serializer_class(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)

    def validated(self, serializer_class, data=None, **kwargs) -> dict:
        serializer = serializer_class(data=self.request.data if data is None else data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


def _blank_filters(filterset_class, params) -> list[str]:
    # django-filter reads a blank value as "no filter"; only text and choice filters admit "" (the
    # schema documents the others as dates and numbers).
    return [
        name
        for name, f in filterset_class.base_filters.items()
        if params.get(name) == "" and not isinstance(f, django_filters.CharFilter | django_filters.ChoiceFilter)
    ]


class DetailMixin:
    # GET one object by its pk: `get_object(pk)` fetches it (its NotFound answers 404) and
    # `serializer_class` (which the OpenAPI schema reads too) serializes it. No docstring: a view's
    # docstring is its OpenAPI description.

    serializer_class: type[serializers.Serializer]

    def get_object(self, pk):
        raise NotImplementedError

    def get(self, request, pk):
        return Response(self.serializer_class(self.get_object(pk)).data)
