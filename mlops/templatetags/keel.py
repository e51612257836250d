"""Display filters shared by Keel's pages, and the decorators the apps' own template helpers use
for what every page does alike: a missing value shows as a dash, a nav badge counts only for Keel
members."""

from datetime import timedelta
from functools import wraps

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

from mlops.roles import USE_KEEL

register = template.Library()

DASH = "—"


def missing_as_dash(display):
    """For a display filter: a missing value (None) shows as a dash; anything else goes to `display`."""

    @wraps(display)
    def shown(value, *args):
        return DASH if value is None else display(value, *args)

    return shown


def for_keel_members(count):
    """For a nav badge's count tag (`takes_context=True`): 0 unless the page's user is a Keel member,
    so the count's query runs only for them."""

    @wraps(count)
    def counted(context, *args):
        user = context.get("user")
        if user is None or not user.has_perm(USE_KEEL):
            return 0
        return count(context, *args)

    return counted


@register.filter
def age(value) -> str:
    """'3 days ago': one unit is enough to judge how stale a model is (timesince would add hours)."""
    if not value:
        return "never"
    if timezone.now() - value < timedelta(minutes=1):
        return "just now"
    return f"{timesince(value, depth=1)} ago"


@register.filter
@missing_as_dash
def config_value(value) -> str:
    """One config cell: missing values are a dash, floats lose float noise, booleans read as words."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
