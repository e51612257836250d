"""What every app's pages share about forms: a service's refusal shown on the form it answers."""

from django import forms
from django.core.exceptions import ValidationError

from .errors import ApplicationError


def show_service_error(
    form: forms.Form,
    exc: ApplicationError | ValidationError,
    rename: dict | None = None,
    *,
    ignore: tuple[str, ...] = (),
) -> None:
    """Attach a service refusal to the form: on the field it names when the form has that field
    (after `rename`, for services that call it differently), otherwise above the form. Detail keys
    in `ignore` are data, not messages (a conflicting entry's id), and are left out; a refusal whose
    detail is all data shows its message above the form."""
    rename = rename or {}
    if isinstance(exc, ValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
    else:
        detail = {field: found for field, found in exc.detail.items() if field not in ignore} or {None: [exc.message]}
    for field, messages in detail.items():
        name = rename.get(field, field)
        form.add_error(name if name in form.fields else None, list(messages))
