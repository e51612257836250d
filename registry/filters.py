import django_filters

from .models import ModelVersion, RegisteredModel, RunStatus, TaskType, TrainingRun


class ModelFilter(django_filters.FilterSet):
    task_type = django_filters.ChoiceFilter(choices=TaskType.choices)
    owner = django_filters.CharFilter(field_name="owner__username")
    search = django_filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = RegisteredModel
        fields = ["task_type", "owner", "search"]


class VersionFilter(django_filters.FilterSet):
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    code_commit = django_filters.CharFilter(field_name="code_commit", lookup_expr="startswith")
    run_id = django_filters.CharFilter(field_name="run__run_id")
    alias = django_filters.CharFilter(field_name="aliases__name")

    class Meta:
        model = ModelVersion
        fields = ["created_after", "created_before", "code_commit", "run_id", "alias"]


class RunFilter(django_filters.FilterSet):
    experiment = django_filters.CharFilter(field_name="experiment__name")
    status = django_filters.ChoiceFilter(choices=RunStatus.choices)
    code_commit = django_filters.CharFilter(field_name="code_commit", lookup_expr="startswith")
    started_after = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")

    class Meta:
        model = TrainingRun
        fields = ["experiment", "status", "code_commit", "started_after"]
