"""Base pieces every Keel API v1 view and serializer builds on."""

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from .roles import ActionPermission


class StrictSerializer(serializers.Serializer):
    """An input serializer that names unknown fields instead of silently dropping them: a pipeline
    that misspells `decision_threshold` hears about it rather than registering a version without one."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class KeelAPIView(APIView):
    """Authenticated by token or session; each HTTP method names the permission it needs."""

    permission_classes = [ActionPermission]
    required_permissions: dict[str, str] = {}

    def list_response(self, request, queryset, serializer_class, filterset_class=None):
        """Filter (400 naming the bad filter), paginate and serialize a list."""
        if filterset_class is not None:
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


def filter_parameters(filterset_class) -> list[OpenApiParameter]:
    """Document a FilterSet's query parameters in the OpenAPI schema of a plain APIView."""
    return [
        OpenApiParameter(name, str, description=str(f.label or f.field_name).capitalize())
        for name, f in filterset_class.base_filters.items()
    ]
