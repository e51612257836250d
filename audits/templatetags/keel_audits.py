"""Template helpers of the audit pages, and the model page's audit panel for the registry to include
(`{% load keel_audits %}{% model_audits_panel model %}`)."""

from django import template

from mlops.roles import RUN_AUDITS
from mlops.templatetags.keel import for_keel_members, missing_as_dash

from .. import selectors, services
from ..engine.checks import STATUS_SEVERITY

# An alert shows the word of the finding that raised it (error: fail, warning: warn).
_ALERT_WORD = {severity: status for status, severity in STATUS_SEVERITY.items() if status in ("fail", "warn")}

register = template.Library()


@register.simple_tag(takes_context=True)
@for_keel_members
def open_alert_count(context) -> int:
    """Open alerts across models, for the nav badge: one small COUNT per page."""
    return selectors.open_alert_count()


@register.inclusion_tag("audits/_model_audits_panel.html", takes_context=True)
def model_audits_panel(context, model) -> dict:
    """The model page's audit panel: verdict trend, latest audits, open alerts, links."""
    user = context.get("user")
    return {**selectors.model_audit_summary(model), "may_run": bool(user and user.has_perm(RUN_AUDITS))}


@register.filter
@missing_as_dash
def stat(value) -> str:
    """A check's value or threshold: four significant digits are what a reviewer compares."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if float(value).is_integer() and abs(value) >= 1:
        return f"{int(value):,}"
    return f"{value:.4g}"


@register.filter
def feed_name(feed: str) -> str:
    """A feed key in words: 'signups-#-#.csv sent by nightly-pipeline', 'schedule #3'."""
    return services.feed_describe(feed or "")


@register.filter
def alert_word(severity: str) -> str:
    """An alert's severity as its finding, its audit's verdict and the report say it: fail or warn."""
    return _ALERT_WORD.get(severity, severity)
