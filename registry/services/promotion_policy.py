"""What a model's promotions are judged by: its policy (thresholds, the blocking rules a reviewer may
switch off with a reason, kept in the switch history) and its labelled hold-out data, checked as it
is registered."""

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from mlops.clipping import clip
from mlops.datafiles.reading import DataFileError, guess_format, read_frame
from mlops.datafiles.sizes import check_size
from mlops.datafiles.storage import one_source_name, open_source, save_with_upload
from mlops.errors import ApplicationError, Conflict
from mlops.hashing import sha256_stream

from ..models import (
    HoldoutDataset,
    HoldoutFormat,
    PolicyRule,
    PolicyRuleSwitch,
    PromotionPolicy,
    RegisteredModel,
    ThresholdRule,
)

__all__ = ["policy_update", "holdout_register"]


@transaction.atomic
def policy_update(*, model: RegisteredModel, actor, switch_reason: str = "", **fields) -> PromotionPolicy:
    """Change a model's policy. Switching a blocking rule (PolicyRule) off needs ``switch_reason``;
    every switch of such a rule, on or off, is appended to the policy's switch history."""
    policy, _ = PromotionPolicy.objects.select_for_update().get_or_create(model=model)
    allowed = {f.name for f in PromotionPolicy._meta.fields} - {"id", "model", "updated_by", "updated_at"}
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise ApplicationError("Unknown policy fields.", detail={name: ["Unknown field."] for name in unknown})
    reason = (switch_reason or "").strip()
    switched = [
        rule for rule in PolicyRule if rule.value in fields and bool(fields[rule.value]) != getattr(policy, rule.value)
    ]
    for rule in switched:
        if not fields[rule.value] and not reason:
            raise ApplicationError(
                f"Say why the rule “{rule.label}” is switched off: the reason is recorded and shown on every "
                "request the gate judges without it.",
                field="switch_reason",
            )
    for name, value in fields.items():
        setattr(policy, name, value)
    if (
        policy.threshold_rule in (ThresholdRule.MIN_RECALL, ThresholdRule.MIN_PRECISION)
        and policy.threshold_target is None
    ):
        # The body may be valid on its own: the stored policy supplies what it leaves out.
        raise Conflict(
            f"The threshold rule '{policy.threshold_rule}' needs a threshold_target.", field="threshold_target"
        )
    policy.updated_by = actor
    policy.full_clean(exclude=["model", "updated_by"])
    policy.save()
    for rule in switched:
        enabled = bool(fields[rule.value])
        PolicyRuleSwitch.objects.create(
            policy=policy, rule=rule, enabled=enabled, reason=reason or "Switched back on.", actor=actor
        )
    return policy


def check_holdout_size(handle, fmt: str) -> None:
    """Refuse (DataFileError) hold-out data with more rows or uncompressed bytes than the settings
    allow, from the Parquet footer or one pass over the lines, before the data is read."""
    check_size(
        handle,
        fmt,
        max_rows=settings.KEEL_MAX_HOLDOUT_ROWS,
        max_bytes=settings.KEEL_MAX_HOLDOUT_UNCOMPRESSED_BYTES,
    )


@transaction.atomic
def holdout_register(
    *,
    model: RegisteredModel,
    actor,
    name: str,
    label_column: str,
    uploaded: UploadedFile | None = None,
    storage_path: str = "",
    format: str = "",
    group_column: str = "",
    positive_label: str = "",
    window_start=None,
    window_end=None,
) -> HoldoutDataset:
    """Register labelled hold-out rows, uploaded or referenced by path, after checking that the file
    reads in its format and has the label column. ``positive_label`` names the value of a binary
    label that means the positive outcome (needed unless the label is written yes/no, true/false,
    y/n or 1/0). Nothing is stored when a check fails."""
    source_name = one_source_name(uploaded, storage_path)
    fmt = format or guess_format(source_name)
    if fmt not in HoldoutFormat.values:
        raise ApplicationError("Say the format (csv or parquet); it cannot be told from the name.", field="format")
    if window_start and window_end and window_end < window_start:
        raise ApplicationError("The hold-out window ends before it starts.", field="window_end")

    with open_source(uploaded, storage_path, max_bytes=settings.KEEL_MAX_HOLDOUT_BYTES) as handle:
        sha, size = sha256_stream(handle)
        try:
            check_holdout_size(handle, fmt)
            columns = list(read_frame(handle, fmt, nrows=5, max_columns=settings.KEEL_MAX_COLUMNS).columns)
        except DataFileError as exc:
            raise ApplicationError(str(exc), field="file" if uploaded else "storage_path") from exc
    for field, column in (("label_column", label_column), ("group_column", group_column)):
        if column and column not in columns:
            raise ApplicationError(
                f"The file has no column '{clip(column)}'. Its columns: {', '.join(clip(c) for c in columns[:30])}.",
                field=field,
            )

    holdout = HoldoutDataset(
        model=model,
        name=name,
        format=fmt,
        label_column=label_column,
        group_column=group_column,
        positive_label=positive_label.strip(),
        sha256=sha,
        size_bytes=size,
        window_start=window_start,
        window_end=window_end,
        created_by=actor,
        storage_path=storage_path,
    )
    save_with_upload(holdout, "file", uploaded)
    return holdout
