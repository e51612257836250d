"""Template helpers of the promotion pages."""

from django import template

from mlops.roles import USE_KEEL

from ..selectors import awaiting_approval_count

register = template.Library()


@register.simple_tag(takes_context=True)
def awaiting_approval(context) -> int:
    """Requests waiting for a reviewer, for the nav badge: one small COUNT per page."""
    user = context.get("user")
    if user is None or not user.has_perm(USE_KEEL):
        return 0
    return awaiting_approval_count()


@register.filter
def percent(value, digits: int = 1) -> str:
    """A share (0–1) as a percentage; a dash when missing."""
    if value is None:
        return "—"
    return f"{100 * value:.{digits}f}%"


@register.filter
def signed(value) -> str:
    """A change with its sign, so +0.012 and −0.012 read differently at a glance."""
    if value is None:
        return "—"
    if value == 0:
        return "0"
    return f"{value:+.4g}".replace("-", "−")


@register.filter
def metric(value) -> str:
    """A metric value: four decimals are what a reviewer compares; large values (rmse) keep fewer."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.4f}" if abs(value) < 100 else f"{value:,.2f}"


@register.filter
def state_label(state: str) -> str:
    return (state or "").replace("_", " ")


@register.filter
def check_name(name: str) -> str:
    """'max_slice_gap:plan' → 'Max slice gap: plan'."""
    rule, _, column = (name or "").partition(":")
    label = rule.replace("_", " ").capitalize()
    return f"{label}: {column}" if column else label
