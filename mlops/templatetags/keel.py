"""Small display filters shared by Keel's pages."""

from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def age(value) -> str:
    """'3 days ago': one unit is enough to judge how stale a model is (timesince would add hours)."""
    if not value:
        return "never"
    if timezone.now() - value < timedelta(minutes=1):
        return "just now"
    return f"{timesince(value, depth=1)} ago"


@register.filter
def config_value(value) -> str:
    """One config cell: missing values are a dash, floats lose float noise, booleans read as words."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
