"""A model's audit suite: the checks its batches must pass, suggested from the training reference
until reviewers save their own."""

from django.db import transaction

from mlops.errors import ApplicationError
from registry.models import RegisteredModel

from ..engine.suite import Suite, suggest_suite
from ..models import AuditSuite, ReferenceProfile
from ..selectors.references import column_specs

__all__ = ["suite_for", "suite_update"]


def suite_for(model: RegisteredModel, reference: ReferenceProfile) -> Suite:
    saved = AuditSuite.objects.filter(model=model).first()
    return Suite.from_dict(saved.suite) if saved else suggest_suite(reference.profile, column_specs(reference))


@transaction.atomic
def suite_update(*, model: RegisteredModel, actor, suite: dict) -> AuditSuite:
    try:
        parsed = Suite.from_dict(suite)
    except (TypeError, ValueError, KeyError) as exc:
        raise ApplicationError(f"The suite is not valid: {exc}", field="suite") from exc
    saved, _ = AuditSuite.objects.update_or_create(
        model=model, defaults={"suite": parsed.to_dict(), "updated_by": actor}
    )
    return saved
