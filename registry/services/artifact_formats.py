"""What an uploaded artifact may be, and the reviewers' decisions to allow pickles for a model.

skops files are accepted when every type they would build is trusted (mlops.modelformats, plus the
deployer's KEEL_TRUSTED_ARTIFACT_TYPES); anything else is a pickle and runs code when loaded, so it
is accepted only for a model whose newest recorded decision allows pickles.
"""

from django.conf import settings
from django.db import transaction

from mlops import modelformats
from mlops.clipping import clip
from mlops.errors import ApplicationError

from ..models import ArtifactFormat, PickleAllowance, RegisteredModel
from ..selectors import pickles_allowed

__all__ = ["artifact_format_check", "model_pickle_policy_set"]

LISTED = 10  # names a refusal quotes


def _names(names: list[str]) -> str:
    shown = ", ".join(clip(name) for name in names[:LISTED])
    return shown + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")


def artifact_format_check(*, model: RegisteredModel, raw: bytes, name: str) -> str:
    """The artifact's format, or an ApplicationError (field `file`) saying why it is refused."""
    label = clip(name or "artifact")
    if modelformats.sniff(raw) == modelformats.SKOPS:
        try:
            untrusted = modelformats.untrusted_types(raw, settings.KEEL_TRUSTED_ARTIFACT_TYPES)
        except modelformats.ArtifactFormatError as exc:
            raise ApplicationError(
                f"'{label}' looks like a skops file, but {clip(str(exc))}; nothing was stored.", field="file"
            ) from exc
        if untrusted:
            raise ApplicationError(
                f"'{label}' would build types Keel does not trust: {_names(untrusted)}. Save the model with "
                "scikit-learn, numpy and scipy classes only, or ask the deployer to add your own transformers "
                "to KEEL_TRUSTED_ARTIFACT_TYPES; nothing was stored.",
                field="file",
            )
        return ArtifactFormat.SKOPS
    if not pickles_allowed(model):
        imports = modelformats.describe_pickle(raw)
        what = f"is a pickle ({imports})" if imports else "is not a skops file, so Keel treats it as a pickle"
        raise ApplicationError(
            f"'{label}' {what}; pickles run code when loaded. "
            f"Save the model with skops (skops.io.dump), or ask a reviewer to allow pickles for '{model.name}' "
            "with a reason. Nothing was stored.",
            field="file",
        )
    return ArtifactFormat.PICKLE


@transaction.atomic
def model_pickle_policy_set(*, model: RegisteredModel, actor, allowed: bool, reason: str) -> PickleAllowance:
    """Record a reviewer's decision to allow (or stop allowing) pickle artifacts for `model`.

    Each decision is a new row; the newest is in force. Repeating the current decision is refused,
    so the record holds only changes.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("Say why, for the record.", field="reason")
    model = RegisteredModel.objects.select_for_update().get(pk=model.pk)
    if pickles_allowed(model) == bool(allowed):
        state = "already allows" if allowed else "does not allow"
        raise ApplicationError(f"'{model.name}' {state} pickle artifacts.", field="allowed")
    return PickleAllowance.objects.create(model=model, allowed=bool(allowed), reason=reason, actor=actor)
